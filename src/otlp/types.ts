/**
 * OTLP/JSON shapes for the logs signal, as the OTel Collector's file exporter writes them and its
 * `otlpjsonfile` receiver reads them (proto3 JSON mapping: 64-bit integers as decimal strings, trace and
 * span ids as lowercase hex, enum values as numbers).
 * Spec: https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
 *
 * Readers must be lenient (a 64-bit integer may also arrive as a JSON number); writers in this package
 * always write the strict form.
 */

/** AnyValue: exactly one member is set; an empty object is an empty (absent) value. */
export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  /** int64: decimal string in canonical proto3 JSON, a number from lenient writers. */
  intValue?: string | number;
  /** double: a JSON number, or "NaN" / "Infinity" / "-Infinity" in proto3 JSON. */
  doubleValue?: number | string;
  /** standard base64 with padding. */
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}

export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

export interface OtlpLogRecord {
  timeUnixNano?: string | number;
  observedTimeUnixNano?: string | number;
  severityNumber?: number;
  severityText?: string;
  body?: OtlpAnyValue;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: string;
  spanId?: string;
  eventName?: string;
}

export interface OtlpInstrumentationScope {
  name?: string;
  version?: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpScopeLogs {
  scope?: OtlpInstrumentationScope;
  logRecords?: OtlpLogRecord[];
  schemaUrl?: string;
}

export interface OtlpResource {
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpResourceLogs {
  resource?: OtlpResource;
  scopeLogs?: OtlpScopeLogs[];
  schemaUrl?: string;
}

/** The resource and scope of records, encoded once: the text around a group of records in a request. */
export interface RecordGroup {
  /** `{"resource":…,"scopeLogs":[{"scope":…,"logRecords":[` — what precedes the group's records. */
  readonly prefix: string;
  /** What closes it: `]` (+ scope schemaUrl) `}]` (+ resource schemaUrl) `}`. */
  readonly suffix: string;
}

/** One line of the local journal and of the Collector's file exporter output. */
export interface ExportLogsServiceRequest {
  resourceLogs?: OtlpResourceLogs[];
}

/** The body of an OTLP/HTTP response for logs. */
export interface ExportLogsServiceResponse {
  partialSuccess?: { rejectedLogRecords?: string | number; errorMessage?: string };
}
