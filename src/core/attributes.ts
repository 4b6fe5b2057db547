/**
 * Attribute names: the public contract of ARCHITECTURE.md §3. Users, dashboards and other verifiers depend on these
 * exact strings; never rename one without a schema version bump.
 */
export const ATTR_RECORD_ID = 'audit.record.id';
export const ATTR_ACTOR_ID = 'audit.actor.id';
export const ATTR_ACTOR_TYPE = 'audit.actor.type';
export const ATTR_ACTION = 'audit.action';
export const ATTR_OUTCOME = 'audit.outcome';
export const ATTR_TARGET_ID = 'audit.target.id';
export const ATTR_TARGET_TYPE = 'audit.target.type';
/** Extensions beyond the ARCHITECTURE.md §3 table, so no field of the typed event is dropped. */
export const ATTR_TARGET_NAME = 'audit.target.name';
export const ATTR_ACTOR_NAME = 'audit.actor.name';
export const ATTR_ACTOR_ROLES = 'audit.actor.roles';
export const ATTR_SOURCE_ID = 'audit.source.id';
export const ATTR_SOURCE_TYPE = 'audit.source.type';
export const ATTR_REASON = 'audit.reason';
export const ATTR_SCHEMA_VERSION = 'audit.schema.version';
export const ATTR_VALIDATION_ERROR = 'audit.validation.error';

export const ATTR_SEQ_STREAM_ID = 'audit.sequence.stream_id';
export const ATTR_SEQ_NUMBER = 'audit.sequence.number';
export const ATTR_SEQ_PREVIOUS_HASH = 'audit.sequence.previous_hash';
export const ATTR_SEQ_PREVIOUS_RECORD_ID = 'audit.sequence.previous_record_id';
export const ATTR_SEQ_END = 'audit.sequence.end';
/**
 * On the first record of a stream whose process took over streams left by earlier processes (a restart):
 * the most recent of those streams, so a verifier can tell a restart from tampering. Extension of ARCHITECTURE.md §3.
 */
export const ATTR_SEQ_PREVIOUS_STREAM_ID = 'audit.sequence.previous_stream_id';

export const ATTR_INTEGRITY_VALUE = 'audit.integrity.value';
export const ATTR_INTEGRITY_SIGNER = 'audit.integrity.signer';
export const ATTR_INTEGRITY_CANONICALIZATION = 'audit.integrity.canonicalization';
export const ATTR_INTEGRITY_ALGORITHM = 'audit.integrity.algorithm';
/** Every attribute under this prefix is excluded from the canonical form (it signs the rest). */
export const INTEGRITY_PREFIX = 'audit.integrity.';

/** Semantic-convention attributes reused where the event carries them. */
export const ATTR_USER_ID = 'user.id';
export const ATTR_USER_NAME = 'user.name';
export const ATTR_USER_ROLES = 'user.roles';
export const ATTR_CLIENT_ADDRESS = 'client.address';
export const ATTR_CLIENT_PORT = 'client.port';
export const ATTR_SESSION_ID = 'session.id';
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_ERROR_TYPE = 'error.type';

/** Version of this package's event → attribute mapping, stamped as `audit.schema.version`. */
export const AUDIT_SCHEMA_VERSION = '1';

/** Event name of the record that closes a stream at shutdown. */
export const EVENT_STREAM_END = 'audit.stream.end';
/** Event name of the signed checkpoints the processor emits (docs/integrity.md §5.1). */
export const EVENT_CHECKPOINT = 'audit.checkpoint';
/**
 * The record that takes the place of one whose sealing threw (its own getters did): its record id and the reason,
 * so that the stream has no gap (ARCHITECTURE.md §2.3).
 */
export const EVENT_UNSEALABLE = 'audit.record.unsealable';

/** Actor id of the records the processor writes itself (stream end, checkpoints). */
export const SYSTEM_ACTOR_ID = 'otel-audit';

/** The required audit attributes of a record the processor writes itself, doing `action`. */
export function systemRecordAttributes(action: string): Record<string, string> {
  return {
    [ATTR_ACTOR_ID]: SYSTEM_ACTOR_ID,
    [ATTR_ACTOR_TYPE]: 'system',
    [ATTR_ACTION]: action,
    [ATTR_OUTCOME]: 'success',
    [ATTR_SCHEMA_VERSION]: AUDIT_SCHEMA_VERSION,
  };
}
