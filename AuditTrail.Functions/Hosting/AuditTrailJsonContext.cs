using System.Text.Json;
using System.Text.Json.Serialization;
using AuditTrail.Functions.FunctionsHost;
using AuditTrail.Functions.Ingestion;

namespace AuditTrail.Functions.Hosting;

/// <summary>Source-generated serialization for the app's response types (no reflection on hot paths).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(IngestResponse))]
[JsonSerializable(typeof(InvocationResponse))]
[JsonSerializable(typeof(ServiceStatus))]
[JsonSerializable(typeof(AuditTrail.Functions.Export.ExportResponse))]
[JsonSerializable(typeof(AuditTrail.Functions.Query.EventTypesResponse))]
[JsonSerializable(typeof(AuditTrail.Functions.Query.ActivityResponse))]
[JsonSerializable(typeof(AuditTrail.Functions.Forwarding.Wire.ForwardingSettingsView))]
[JsonSerializable(typeof(AuditTrail.Functions.Forwarding.Wire.ForwardingResendResult))]
[JsonSerializable(typeof(AuditTrail.Functions.Access.AccessTokenView))]
[JsonSerializable(typeof(AuditTrail.Functions.Integrity.Wire.JsonWebKeySet))]
[JsonSerializable(typeof(AuditTrail.Functions.Integrity.Wire.DigestList))]
[JsonSerializable(typeof(AuditTrail.Functions.Integrity.Wire.VerificationReport))]
internal sealed partial class AuditTrailJsonContext : JsonSerializerContext;
