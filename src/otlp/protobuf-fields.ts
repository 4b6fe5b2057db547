/**
 * Field keys of the OTLP logs messages, shared by the request encoder (protobuf.ts) and decoder
 * (protobuf-decode.ts). Field numbers are from opentelemetry-proto (github.com/open-telemetry/opentelemetry-proto):
 * collector/logs/v1/logs_service.proto, logs/v1/logs.proto, common/v1/common.proto, resource/v1/resource.proto;
 * test fixtures hold copies of those files (test/fixtures/proto). Each constant is the whole first byte of the
 * field, `(field_number << 3) | wire_type`, so a decoder matches the number and the wire type at once.
 */
import { I32, I64, LEN, VARINT, key } from './protobuf-wire.js';

// collector/logs/v1/logs_service.proto
/** ExportLogsServiceRequest: repeated opentelemetry.proto.logs.v1.ResourceLogs resource_logs = 1; */
export const REQUEST_RESOURCE_LOGS = key(1, LEN);

// logs/v1/logs.proto — ResourceLogs
/** opentelemetry.proto.resource.v1.Resource resource = 1; */
export const RESOURCE_LOGS_RESOURCE = key(1, LEN);
/** repeated ScopeLogs scope_logs = 2; */
export const RESOURCE_LOGS_SCOPE_LOGS = key(2, LEN);
/** string schema_url = 3; */
export const RESOURCE_LOGS_SCHEMA_URL = key(3, LEN);

// resource/v1/resource.proto — Resource
/** repeated opentelemetry.proto.common.v1.KeyValue attributes = 1; */
export const RESOURCE_ATTRIBUTES = key(1, LEN);
/** uint32 dropped_attributes_count = 2; */
export const RESOURCE_DROPPED = key(2, VARINT);

// logs/v1/logs.proto — ScopeLogs
/** opentelemetry.proto.common.v1.InstrumentationScope scope = 1; */
export const SCOPE_LOGS_SCOPE = key(1, LEN);
/** repeated LogRecord log_records = 2; */
export const SCOPE_LOGS_LOG_RECORDS = key(2, LEN);
/** string schema_url = 3; */
export const SCOPE_LOGS_SCHEMA_URL = key(3, LEN);

// common/v1/common.proto — InstrumentationScope
/** string name = 1; */
export const SCOPE_NAME = key(1, LEN);
/** string version = 2; */
export const SCOPE_VERSION = key(2, LEN);
/** repeated KeyValue attributes = 3; */
export const SCOPE_ATTRIBUTES = key(3, LEN);
/** uint32 dropped_attributes_count = 4; */
export const SCOPE_DROPPED = key(4, VARINT);

// logs/v1/logs.proto — LogRecord (field 4 is reserved: the removed `name`)
/** fixed64 time_unix_nano = 1; */
export const LOG_TIME = key(1, I64);
/** SeverityNumber severity_number = 2; (enum: int32 varint) */
export const LOG_SEVERITY_NUMBER = key(2, VARINT);
/** string severity_text = 3; */
export const LOG_SEVERITY_TEXT = key(3, LEN);
/** opentelemetry.proto.common.v1.AnyValue body = 5; */
export const LOG_BODY = key(5, LEN);
/** repeated opentelemetry.proto.common.v1.KeyValue attributes = 6; */
export const LOG_ATTRIBUTES = key(6, LEN);
/** uint32 dropped_attributes_count = 7; */
export const LOG_DROPPED = key(7, VARINT);
/** fixed32 flags = 8; */
export const LOG_FLAGS = key(8, I32);
/** bytes trace_id = 9; (16 bytes) */
export const LOG_TRACE_ID = key(9, LEN);
/** bytes span_id = 10; (8 bytes) */
export const LOG_SPAN_ID = key(10, LEN);
/** fixed64 observed_time_unix_nano = 11; */
export const LOG_OBSERVED_TIME = key(11, I64);
/** string event_name = 12; */
export const LOG_EVENT_NAME = key(12, LEN);

// common/v1/common.proto — KeyValue, AnyValue, ArrayValue, KeyValueList
/** KeyValue: string key = 1; */
export const KV_KEY = key(1, LEN);
/** KeyValue: AnyValue value = 2; */
export const KV_VALUE = key(2, LEN);
/** AnyValue oneof value: string string_value = 1; */
export const ANY_STRING = key(1, LEN);
/** AnyValue oneof value: bool bool_value = 2; */
export const ANY_BOOL = key(2, VARINT);
/** AnyValue oneof value: int64 int_value = 3; */
export const ANY_INT = key(3, VARINT);
/** AnyValue oneof value: double double_value = 4; */
export const ANY_DOUBLE = key(4, I64);
/** AnyValue oneof value: ArrayValue array_value = 5; */
export const ANY_ARRAY = key(5, LEN);
/** AnyValue oneof value: KeyValueList kvlist_value = 6; */
export const ANY_KVLIST = key(6, LEN);
/** AnyValue oneof value: bytes bytes_value = 7; */
export const ANY_BYTES = key(7, LEN);
/** ArrayValue: repeated AnyValue values = 1;  KeyValueList: repeated KeyValue values = 1; */
export const LIST_VALUES = key(1, LEN);
