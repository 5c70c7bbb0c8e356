// Example parameters for main.bicep: az deployment group create --parameters infra/main.bicepparam
using 'main.bicep'

param namePrefix = 'audittrail'
param instanceMemoryMB = 2048
param maximumInstanceCount = 100
param exportRetentionDays = 7
param digestRetentionDays = 180
