/** Public API of record signatures, signed checkpoints and stream links (spec: docs/integrity.md). */
export {
  decodeHmacSecret,
  ed25519KeyId,
  ENV_HMAC_KEY,
  ENV_HMAC_KEY_FILE,
  ENV_KEY_ID,
  ENV_SIGNING_KEY_FILE,
  generateEd25519KeyPair,
  HMAC_KEY_ID_LABEL,
  HMAC_MIN_KEY_BYTES,
  hmacKeyId,
  INTEGRITY_ALGORITHMS,
  isSigningKey,
  loadSigningKeys,
  readSigningKeys,
  loadVerifyingKeys,
  type IntegrityAlgorithm,
  type SigningKey,
  type VerifyingKey,
} from './keys.js';
export {
  ATTR_INTEGRITY_KEY_ID,
  createRecordSigner,
  integrityAttributes,
  INTEGRITY_SIGNER_PRODUCER,
  verifyRecordSignature,
  type RecordSigner,
} from './sign.js';
export {
  ATTR_CHECKPOINT_HEAD_HASH,
  ATTR_CHECKPOINT_INTERVAL,
  ATTR_CHECKPOINT_SEQUENCE,
  ATTR_CHECKPOINT_STREAM_ID,
  CHECKPOINT_ACTION,
  CHECKPOINT_ACTOR_ID,
  CHECKPOINT_PREFIX,
  checkpointAttributes,
  CheckpointSchedule,
  DEFAULT_CHECKPOINT_POLICY,
  EVENT_CHECKPOINT,
  type CheckpointPolicy,
} from './checkpoint.js';
export {
  ATTR_SEQ_PREVIOUS_STREAM_HASH,
  ATTR_SEQ_PREVIOUS_STREAM_ID,
  ATTR_SEQ_PREVIOUS_STREAM_LAST,
  restartAttributes,
} from './stream-link.js';
