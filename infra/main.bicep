metadata description = 'Audit Trail on Azure Functions Flex Consumption: storage (tables, containers, queues, lifecycle rules, an immutable digest container), Event Hubs, Log Analytics and Application Insights, a Key Vault holding the digest signing key, and a Linux function app (custom handler) whose user-assigned identity holds data-plane roles. No account keys, no shared access keys. See infra/README.md and docs/deploy.md.'

@description('Lowercase letters and digits; prefixes every resource name.')
@minLength(3)
@maxLength(11)
param namePrefix string = 'audittrail'

@description('Region of every resource; one where Flex Consumption is offered (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Memory of each Flex Consumption instance, in MB. The handler is one self-contained .NET process; 2048 leaves room for exports and ingest batches.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to. Bounds the cost of a burst and the parallel load on the storage account.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Partitions of the audit-events hub: the most Event Hubs trigger instances that read in parallel.')
@minValue(1)
@maxValue(32)
param eventHubPartitions int = 4

@description('Days the hub keeps events a consumer has not read yet (Standard tier: at most 7).')
@minValue(1)
@maxValue(7)
param eventHubMessageRetentionDays int = 7

@description('Lifecycle rule for CSV exports; the app\'s own purge removes them after 7 days as well.')
@minValue(1)
@maxValue(90)
param exportRetentionDays int = 7

@description('Lifecycle rule for dead letters; the app\'s purge keeps them as long as events (90 days).')
@minValue(1)
@maxValue(365)
param deadLetterRetentionDays int = 90

@description('Days each sealed digest in audit-digests cannot be changed or deleted (time-based retention): the 90-day event retention plus 90, so a digest outlives every event it covers.')
@minValue(1)
@maxValue(146000)
param digestRetentionDays int = 180

@description('The digest signing key: an EC P-256 private key in PEM (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256). Stored as the Key Vault secret the app reads; leave empty to keep the secret already in the vault (docs/deploy.md).')
@secure()
param digestSigningKeyPem string = ''

@description('Tracking API used when a workspace names none (EU: https://events.eu1.segmentapis.com).')
param forwardingDefaultEndpoint string = 'https://api.segment.io'

var suffix = uniqueString(resourceGroup().id, namePrefix)
var storageName = take(toLower('${namePrefix}${suffix}'), 24)
var identityName = '${namePrefix}-id-${suffix}'
var eventHubNamespaceName = '${namePrefix}-eh-${suffix}'
var eventHubName = 'audit-events'
var consumerGroupName = 'audittrail'
var planName = '${namePrefix}-plan-${suffix}'
var appName = '${namePrefix}-fn-${suffix}'
var logsName = '${namePrefix}-logs-${suffix}'
var insightsName = '${namePrefix}-ai-${suffix}'
// Key Vault names: 3-24 letters, digits and hyphens, starting with a letter.
var vaultName = take('${namePrefix}kv${suffix}', 24)
var signingKeySecretName = 'digest-signing-key'

// The names the code uses (AuditTrail.Tests/Deployment/ConsistencyTests holds them to the code's constants).
var tables = [
  'AuditEvents'
  'AuditEventIds'
  'AuditPartitions'
  'AuditWorkspaceDays'
  'AuditTrailKeys'
  'AccessTokens'
  'AuditExports'
  'AuditForwarding'
  'AuditLedger'
  'AuditDigests'
]
var containers = [
  'audit-deadletter'
  'audit-exports'
]
var queues = [
  'audit-forward'
  'audit-forward-poison'
  'audit-export'
  'audit-export-poison'
]
// Sealed digests: write once, kept unchangeable for digestRetentionDays.
var digestContainerName = 'audit-digests'
// Where Flex Consumption keeps the deployed package; the platform reads it with the app's identity.
var deploymentContainerName = 'app-package'

// Built-in role definition ids (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}
var storageRoles = [
  roles.storageBlobDataOwner
  roles.storageTableDataContributor
  roles.storageQueueDataContributor
]

// One identity for the host, the handler and the platform's package download. User-assigned, so
// its roles are granted before the app exists and hold from the app's first start (see README).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  sku: {
    name: 'Standard_LRS'
  }
  kind: 'StorageV2'
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tableResources 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tables: {
    parent: tableService
    name: table
  }
]

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource containerResources 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource digestContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: digestContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Time-based retention (WORM): a digest can be written once and neither changed nor deleted until
// it is digestRetentionDays old. Left unlocked by the template so a mistaken value can be fixed;
// docs/deploy.md locks it once checked.
resource digestRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: digestContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: digestRetentionDays
    allowProtectedAppendWrites: false
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queueResources 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queues: {
    parent: queueService
    name: queue
  }
]

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          enabled: true
          name: 'expire-exports'
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'audit-exports/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: exportRetentionDays
                }
              }
            }
          }
        }
        {
          enabled: true
          name: 'expire-dead-letters'
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'audit-deadletter/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: deadLetterRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

resource eventHubNamespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: eventHubNamespaceName
  location: location
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource eventHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: eventHubNamespace
  name: eventHubName
  properties: {
    partitionCount: eventHubPartitions
    messageRetentionInDays: eventHubMessageRetentionDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: eventHub
  name: consumerGroupName
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logsName
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

// Local auth off: telemetry is accepted only with an Entra token (the identity's, by the
// Monitoring Metrics Publisher role), so the instrumentation key in the connection string is an
// address, not a credential.
resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: insightsName
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true
  }
}

resource storageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in storageRoles: {
    name: guid(storage.id, identity.id, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource eventHubsRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHubNamespace.id, identity.id, roles.eventHubsDataReceiver)
  scope: eventHubNamespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource insightsRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The digest signing key lives here, not in the storage account it protects: someone who can write
// that account (a leaked storage identity, an operator) cannot read or replace it. RBAC only (no
// access policies), and a deleted vault or secret is kept 90 days and cannot be purged early.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
  }
}

resource signingKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(digestSigningKeyPem)) {
  parent: vault
  name: signingKeySecretName
  properties: {
    value: digestSigningKeyPem
    contentType: 'application/x-pem-file'
  }
}

// Read the secrets of this vault, and nothing else: the role is on the vault, not the group.
resource vaultRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references in app settings resolve with the user-assigned identity (the one with the vault role).
    keyVaultReferenceIdentity: identity.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      // Custom handlers: the host starts host.json's defaultExecutablePath. '1.0' is the one
      // version the Flex Consumption stack lists for 'custom'.
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Identity-based settings only. Flex Consumption takes the runtime from functionAppConfig and
      // rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE.
      appSettings: [
        {
          name: 'AzureWebJobsDisableHomepage'
          value: 'true'
        }
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'AuditStorage__accountName'
          value: storage.name
        }
        {
          name: 'AuditStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AuditStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AuditStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'AuditStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AuditStorage__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'AuditEventsHub__fullyQualifiedNamespace'
          value: '${eventHubNamespace.name}.servicebus.windows.net'
        }
        {
          name: 'AuditEventsHub__credential'
          value: 'managedidentity'
        }
        {
          name: 'AuditEventsHub__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'AuditEventsHubName'
          value: eventHub.name
        }
        {
          name: 'AuditEventsConsumerGroup'
          value: consumerGroup.name
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD;ClientId=${identity.properties.clientId}'
        }
        {
          name: 'AuditTrail__Forwarding__DefaultEndpoint'
          value: forwardingDefaultEndpoint
        }
        {
          // A Key Vault reference: the platform resolves it with the identity; the app refuses to start
          // under the host without a configured key (docs/integrity.md, "Keys").
          name: 'AuditTrail__Integrity__SigningKeyPem'
          value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=${signingKeySecretName})'
        }
      ]
    }
  }
  // The host reads its storage, and the platform its package, with the identity from the first
  // start: its roles come first.
  dependsOn: [
    storageRoleAssignments
    eventHubsRoleAssignment
    insightsRoleAssignment
    vaultRoleAssignment
    signingKeySecret
    containerResources
    queueResources
    tableResources
    deploymentContainer
    digestRetention
  ]
}

// Deployments sign in with Entra ID (az login); no publishing user names or passwords.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

output functionAppName string = app.name
output functionAppHostName string = app.properties.defaultHostName
output storageAccountName string = storage.name
output eventHubNamespace string = '${eventHubNamespace.name}.servicebus.windows.net'
output eventHubName string = eventHub.name
output identityClientId string = identity.properties.clientId
output keyVaultName string = vault.name
