/**
 * Writes the integrity test vectors of docs/integrity.md §9 into test/vectors/integrity/. Skipped unless
 * OTEL_AUDIT_WRITE_VECTORS=1:
 *
 *   OTEL_AUDIT_WRITE_VECTORS=1 npx vitest run test/integrity/generate-vectors.test.ts
 *
 * Output is deterministic (fixed keys in keys/, fixed stream ids and timestamps; Ed25519 signatures are
 * deterministic, RFC 8032). Expected outcomes are written here by hand from the spec, not recorded from the
 * verifier; test/integrity/vectors.test.ts then checks the verifier against them. In signatures.json the
 * canonical texts, hashes, MACs and signatures are computed without src/chain/canonical.ts or src/integrity/:
 * canonical objects are built by hand, serialized with the generic RFC 8785 serializer, and signed with
 * node:crypto directly.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jcs } from '../../src/chain/jcs.js';
import { ATTR_CHECKPOINT_HEAD_HASH, EVENT_CHECKPOINT } from '../../src/integrity/checkpoint.js';
import { createRecordSigner, integrityAttributes } from '../../src/integrity/sign.js';
import { loadSigningKeys } from '../../src/integrity/keys.js';
import { ATTR_ACTION, ATTR_SEQ_NUMBER, ATTR_SEQ_PREVIOUS_HASH, ATTR_SEQ_PREVIOUS_RECORD_ID, INTEGRITY_PREFIX } from '../../src/core/attributes.js';
import type { OtlpAnyValue, OtlpLogRecord } from '../../src/otlp/types.js';
import { getAttr, recordIdOf, setAttr } from '../helpers/make-chain.js';
import { kvs, makeSignedChain, type SignedChainOptions } from '../helpers/make-signed-chain.js';
import type { ExpectedProblem, IntegrityVector as Vector } from '../helpers/integrity-vector.js';

const DIR = join(import.meta.dirname, '..', 'vectors', 'integrity');
const WRITE = process.env['OTEL_AUDIT_WRITE_VECTORS'] === '1';
const key = (name: string): string => join(DIR, 'keys', name);

const producer = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: key('producer.key.pem') }).checkpoint!);
const attacker = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: key('attacker.key.pem') }).checkpoint!);
const hmacValue = readFileSync(key('hmac.key'), 'utf8').trim();
const hmac = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: hmacValue }).record!);

const RESOURCE = { attributes: [{ key: 'service.name', value: { stringValue: 'vector-service' } }] };
const line = (records: readonly OtlpLogRecord[], resource: object = RESOURCE): string =>
  JSON.stringify({ resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'audit' }, logRecords: records }] }] });
const lines = (records: readonly OtlpLogRecord[]): string[] => records.map((r) => line([r]));
const hashOf = (canonical: string): string => createHash('sha256').update(canonical, 'utf8').digest('hex');

/** Canonical form v1 of the simple records used here, built by hand (no src/chain/canonical.ts). */
function canonicalByHand(r: OtlpLogRecord): string {
  const tagged = (v: OtlpAnyValue): object => {
    if (v.stringValue !== undefined) return { stringValue: v.stringValue };
    if (v.intValue !== undefined) return { intValue: String(v.intValue) };
    if (v.doubleValue !== undefined) return { doubleValue: Number(v.doubleValue) };
    if (v.boolValue !== undefined) return { boolValue: v.boolValue };
    throw new Error('unsupported in vectors');
  };
  const attributes: Record<string, object> = {};
  for (const kv of r.attributes ?? []) if (!kv.key.startsWith(INTEGRITY_PREFIX)) attributes[kv.key] = tagged(kv.value!);
  const obj: Record<string, unknown> = { attributes };
  if (r.body !== undefined) obj['body'] = tagged(r.body);
  if (r.eventName) obj['event_name'] = r.eventName;
  if (r.observedTimeUnixNano && r.observedTimeUnixNano !== '0') obj['observed_timestamp'] = String(r.observedTimeUnixNano);
  if (r.timeUnixNano && r.timeUnixNano !== '0') obj['timestamp'] = String(r.timeUnixNano);
  return jcs(obj);
}

const SA = '11111111-1111-4111-8111-111111111111';
const SB = '22222222-2222-4222-8222-222222222222';

function chain(o: Omit<SignedChainOptions, 'streamId'> & { streamId?: string }): OtlpLogRecord[] {
  return makeSignedChain({ streamId: SA, ...o }).records;
}

/** Re-links records[from..] after a change (an attacker who can hash): previous_hash recomputed. */
function relinkFrom(records: OtlpLogRecord[], from: number): void {
  for (let k = Math.max(from, 1); k < records.length; k++) {
    setAttr(records[k]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(canonicalByHand(records[k - 1]!)) });
  }
}

/** Renumbers 1..n and re-links everything. */
function renumber(records: OtlpLogRecord[]): OtlpLogRecord[] {
  records.forEach((r, k) => {
    setAttr(r, ATTR_SEQ_NUMBER, { intValue: String(k + 1) });
    if (k > 0) setAttr(r, ATTR_SEQ_PREVIOUS_RECORD_ID, { stringValue: recordIdOf(records[k - 1]!) });
  });
  relinkFrom(records, 1);
  return records;
}

function resign(r: OtlpLogRecord, signer = attacker): void {
  r.attributes = r.attributes!.filter((kv) => !kv.key.startsWith(INTEGRITY_PREFIX));
  r.attributes.push(...kvs(integrityAttributes(signer, signer.sign(canonicalByHand(r)))));
}

const KEYS_ALL = { pubkeys: ['keys/producer.pub.pem'], hmac: ['keys/hmac.key'] };
const F = 'audit.jsonl';
const P = (kind: string, seq: number, line: number, extra: Partial<ExpectedProblem> = {}): ExpectedProblem => ({ kind, stream: SA, seq, file: F, line, ...extra });

function vectors(): Record<string, Vector> {
  const v: Record<string, Vector> = {};
  // Stream used by most vectors: 8 records MAC-ed with HMAC-SHA256, a checkpoint after every 3, closed by an
  // end record that is itself the final checkpoint. seq: 1 2 3 [4] 5 6 7 [8] 9 10 [11 end].
  const base = (): OtlpLogRecord[] => chain({ n: 8, recordSigner: hmac, checkpointSigner: producer, checkpointEvery: 3, shutdown: 'end-checkpoint' });
  const baseStream = { streamId: SA, first: 1, last: 11, ended: true, coveredThrough: 11 };

  v['valid-hmac-checkpoints'] = {
    description: 'Valid: HMAC-SHA256 on every record, Ed25519 checkpoints after every 3 records, the end record is the final checkpoint. Everything covered.',
    files: { [F]: lines(base()) },
    keys: KEYS_ALL,
    requireSignatures: true,
    expect: { ok: true, errors: [], info: [], streams: [baseStream] },
  };
  v['valid-ed25519-records'] = {
    description: 'Valid: Ed25519 signature on every record (the same key signs checkpoints), no checkpoint, plain end record.',
    files: { [F]: lines(chain({ n: 5, recordSigner: producer, shutdown: 'end' })) },
    keys: { pubkeys: ['keys/producer.pub.pem'] },
    requireSignatures: true,
    expect: { ok: true, errors: [], info: [], streams: [{ streamId: SA, first: 1, last: 6, ended: true, coveredThrough: 0 }] },
  };
  v['reordered-keys'] = {
    description: 'Valid: the stream of valid-hmac-checkpoints with every attribute list reversed and the members of every JSON object in another order. Key order does not matter: same hashes, same MACs, same outcome.',
    files: {
      [F]: base().map((r) => {
        const attrs = [...r.attributes!].reverse().map((kv) => ({ value: kv.value, key: kv.key }));
        const shuffled = { eventName: r.eventName, attributes: attrs, severityNumber: r.severityNumber, observedTimeUnixNano: r.observedTimeUnixNano, timeUnixNano: r.timeUnixNano, ...(r.body ? { body: r.body } : {}) };
        return JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [shuffled], scope: { name: 'audit' } }], resource: RESOURCE }] });
      }),
    },
    keys: KEYS_ALL,
    requireSignatures: true,
    expect: { ok: true, errors: [], info: [], streams: [baseStream] },
  };
  {
    const r = base();
    const extra = { attributes: [...RESOURCE.attributes, { key: 'k8s.pod.name', value: { stringValue: 'pod-7' } }] };
    v['collector-batches'] = {
      description:
        'Valid: the collector\'s copy of the stream, in batches of several records spread over two files out of order, with a resource attribute the collector added and one batch delivered twice (duplicates are info).',
      files: {
        'otelcol-1.json': [line(r.slice(6, 11), extra), line(r.slice(0, 3), extra)],
        'otelcol-2.json': [line(r.slice(3, 6), extra), line(r.slice(0, 3), extra)],
      },
      keys: KEYS_ALL,
      requireSignatures: true,
      expect: {
        ok: true,
        errors: [],
        info: [1, 2, 3].map((seq) => ({ kind: 'duplicate', stream: SA, seq, file: 'otelcol-2.json', line: 2 })),
        streams: [baseStream],
      },
    };
  }
  {
    const a = makeSignedChain({ streamId: SA, n: 3 });
    const b = makeSignedChain({ streamId: SB, n: 2, previous: { streamId: SA, lastSeq: 3, lastHash: a.hashes[2]! } });
    v['restart-after-crash'] = {
      description:
        'Valid: stream A stops without an end record (the process was killed); the restarted process begins stream B naming A and its last record. Reported as restart (info), not tampering.',
      files: { [F]: lines([...a.records, ...b.records]) },
      keys: {},
      expect: {
        ok: true,
        errors: [],
        info: [{ kind: 'restart', stream: SB, seq: 1, file: F, line: 4, reason: 'previous_unended' }],
        streams: [
          { streamId: SA, first: 1, last: 3, ended: false, coveredThrough: 0 },
          { streamId: SB, first: 1, last: 2, ended: false, coveredThrough: 0 },
        ],
      },
    };
  }

  // --- negative ---
  {
    const r = base();
    setAttr(r[1]!, ATTR_ACTION, { stringValue: 'GRANT' });
    v['modified-field'] = {
      description: 'audit.action of seq 2 changed: its hash no longer matches seq 3\'s previous_hash, and its MAC fails.',
      files: { [F]: lines(r) },
      keys: KEYS_ALL,
      // Coverage is a prefix up to the first broken link (2 → 3): nothing is covered.
      expect: { ok: false, errors: [P('modified', 2, 2), P('bad_signature', 2, 2, { reason: 'invalid' })], info: [], streams: [{ ...baseStream, coveredThrough: 0 }] },
    };
  }
  {
    const r = base();
    const k = r[4]!; // seq 5
    const size = getAttr(k, 'request.size')!;
    setAttr(k, 'request.size', { doubleValue: Number(size.intValue) });
    v['int-to-double'] = {
      description: 'request.size of seq 5 changed from {"intValue":"40"} to {"doubleValue":40}: same number, different canonical form (int and double are distinct).',
      files: { [F]: lines(r) },
      keys: KEYS_ALL,
      // Covered through the checkpoint at 4, before the first broken link (5 → 6).
      expect: { ok: false, errors: [P('modified', 5, 5), P('bad_signature', 5, 5, { reason: 'invalid' })], info: [], streams: [{ ...baseStream, coveredThrough: 4 }] },
    };
  }
  {
    const r = base();
    const ls = lines(r);
    ls[2] = ls[2]!.replace('"event 3"', '"event \\ud800 3"');
    v['lone-surrogate'] = {
      description: 'The body of seq 3 holds a lone surrogate (\\ud800): no canonical form, the record is malformed — so seq 3 is also missing from the chain.',
      files: { [F]: ls },
      keys: KEYS_ALL,
      expect: {
        ok: false,
        errors: [
          { kind: 'malformed', file: F, line: 3 },
          P('deleted', 3, 4),
        ],
        info: [],
        streams: [{ ...baseStream, coveredThrough: 0 }], // the gap at 3 ends the covered prefix
      },
    };
  }
  v['missing-genesis'] = {
    description: 'The first record (seq 1) was removed: the stream starts at seq 2.',
    files: { [F]: lines(base().slice(1)) },
    keys: KEYS_ALL,
    expect: { ok: false, errors: [P('deleted', 1, 1)], info: [], streams: [{ ...baseStream, first: 2 }] },
  };
  {
    const r = base();
    const forged = structuredClone(r[4]!); // another record claiming seq 5
    forged.attributes = forged.attributes!.filter((kv) => !kv.key.startsWith(INTEGRITY_PREFIX));
    setAttr(forged, 'audit.record.id', { stringValue: 'forged-record' });
    forged.body = { stringValue: 'inserted' };
    const ls = lines(r);
    ls.splice(5, 0, line([forged]));
    v['duplicate-sequence'] = {
      description: 'A second, different record claims seq 5 (line 6). The chain links through the genuine one, which also carries a valid MAC: the other one was inserted.',
      files: { [F]: ls },
      keys: KEYS_ALL,
      expect: { ok: false, errors: [P('inserted', 5, 6)], info: [], streams: [baseStream] },
    };
  }
  {
    const r = base();
    resign(r[7]!); // the checkpoint at seq 8, re-signed by another key (content unchanged)
    v['forged-checkpoint'] = {
      description: 'The checkpoint at seq 8 carries a signature by a key that is not trusted (the attacker\'s): bad_signature. The other checkpoints are valid, so coverage is unchanged.',
      files: { [F]: lines(r) },
      keys: KEYS_ALL,
      expect: { ok: false, errors: [P('bad_signature', 8, 8, { reason: 'checkpoint_unknown_key' })], info: [], streams: [baseStream] },
    };
  }
  {
    const r = base();
    setAttr(r[7]!, ATTR_CHECKPOINT_HEAD_HASH, { stringValue: 'a'.repeat(64) });
    v['forged-checkpoint-head'] = {
      description: 'The head hash of the checkpoint at seq 8 was changed: it no longer equals its previous_hash (and the signature no longer verifies); its own hash changed, so seq 9\'s link breaks too.',
      files: { [F]: lines(r) },
      keys: KEYS_ALL,
      expect: { ok: false, errors: [P('modified', 8, 8), P('bad_signature', 8, 8, { reason: 'checkpoint_invalid' })], info: [], streams: [{ ...baseStream, coveredThrough: 4 }] },
    };
  }
  {
    // Unsigned records, Ed25519 checkpoints after every 3, end checkpoint: seq 1 2 3 [4] 5 6 7 [8] 9 10 [11].
    const r = chain({ n: 8, checkpointSigner: producer, checkpointEvery: 3, shutdown: 'end-checkpoint' });
    setAttr(r[1]!, ATTR_ACTION, { stringValue: 'GRANT' });
    relinkFrom(r, 2);
    for (const k of [3, 7]) {
      setAttr(r[k]!, ATTR_CHECKPOINT_HEAD_HASH, getAttr(r[k]!, ATTR_SEQ_PREVIOUS_HASH));
      resign(r[k]!);
      relinkFrom(r, k + 1);
    }
    // The end checkpoint (seq 11) too.
    setAttr(r[10]!, ATTR_CHECKPOINT_HEAD_HASH, getAttr(r[10]!, ATTR_SEQ_PREVIOUS_HASH));
    resign(r[10]!);
    v['rewritten-chain'] = {
      description:
        'An attacker who can compute hashes but holds no signing key changed seq 2, recomputed every later previous_hash and head_hash, and re-signed the checkpoints with their own key. The hash chain alone is intact; every checkpoint after the change fails.',
      files: { [F]: lines(r) },
      keys: { pubkeys: ['keys/producer.pub.pem'] },
      expect: {
        ok: false,
        errors: [4, 8, 11].map((seq) => P('bad_signature', seq, seq, { reason: 'checkpoint_unknown_key' })),
        info: [],
        streams: [{ ...baseStream, coveredThrough: 0 }],
      },
    };
  }
  {
    const r = chain({ n: 8, checkpointSigner: producer, checkpointEvery: 3, shutdown: 'end-checkpoint' });
    v['truncated-tail'] = {
      description:
        'The local copy ends at seq 6 (its tail was cut); the collector\'s copy, given as a checkpoint source, holds valid checkpoints up to seq 11: seq 7–11 are missing. Located at the last record held.',
      files: { [F]: lines(r.slice(0, 6)) },
      checkpointFiles: { 'collector.json': [line(r)] },
      keys: { pubkeys: ['keys/producer.pub.pem'] },
      expect: {
        ok: false,
        errors: [P('truncated', 7, 6, { through: 11, reason: 'records_missing' })],
        info: [],
        streams: [{ streamId: SA, first: 1, last: 6, ended: false, coveredThrough: 4 }],
      },
    };
  }
  {
    const r = chain({ n: 10, checkpointSigner: producer, checkpointEvery: 3 }); // 1 2 3 [4] 5 6 7 [8] 9 10 11 [12] 13
    // Delete seq 6, drop the checkpoints after it (they cannot be re-signed), renumber and re-link.
    const forged = renumber(r.filter((x, k) => k !== 5 && !(x.eventName === EVENT_CHECKPOINT && k > 5)));
    v['checkpoint-removed'] = {
      description:
        'seq 6 deleted, the later checkpoints dropped, everything renumbered and re-linked. The checkpoint at seq 4 declares one at least every 3 records, so seq 8 must be a checkpoint: it is not.',
      files: { [F]: lines(forged) },
      keys: { pubkeys: ['keys/producer.pub.pem'] },
      expect: {
        ok: false,
        errors: [P('truncated', 8, 8, { reason: 'checkpoint_missing' })],
        info: [],
        streams: [{ streamId: SA, first: 1, last: 10, ended: false, coveredThrough: 4 }],
      },
    };
  }
  {
    const r = base();
    setAttr(r[2]!, 'audit.integrity.value', { stringValue: Buffer.alloc(32, 7).toString('base64') });
    v['bad-mac'] = {
      description: 'The MAC of seq 3 was replaced (the record itself is unchanged, so the chain is intact).',
      files: { [F]: lines(r) },
      keys: KEYS_ALL,
      expect: { ok: false, errors: [P('bad_signature', 3, 3, { reason: 'invalid' })], info: [], streams: [baseStream] },
    };
  }
  {
    const r = chain({ n: 4, recordSigner: attacker });
    v['unknown-key-required'] = {
      description: 'Every record is signed with a key that is not given, and signatures are required.',
      files: { [F]: lines(r) },
      keys: { pubkeys: ['keys/producer.pub.pem'] },
      requireSignatures: true,
      expect: {
        ok: false,
        errors: [P('bad_signature', 1, 1, { through: 4, reason: 'unknown_key' })],
        info: [],
        streams: [{ streamId: SA, first: 1, last: 4, ended: false, coveredThrough: 0 }],
      },
    };
  }
  {
    const r = chain({ n: 6, recordSigner: (seq) => (seq <= 3 ? producer : attacker) });
    v['key-changed'] = {
      description:
        'Seq 1–3 signed with the producer key, seq 4–6 re-signed with another key the verifier is also given (a producer sharing the collector, or a retired key): a stream does not change keys.',
      files: { [F]: lines(r) },
      keys: { pubkeys: ['keys/producer.pub.pem', 'keys/attacker.pub.pem'] },
      expect: {
        ok: false,
        errors: [P('bad_signature', 4, 4, { through: 6, reason: 'key_changed' })],
        info: [],
        streams: [{ streamId: SA, first: 1, last: 6, ended: false, coveredThrough: 0 }],
      },
    };
  }
  {
    const r = base();
    r[4]!.attributes = r[4]!.attributes!.filter((kv) => !kv.key.startsWith(INTEGRITY_PREFIX));
    v['signature-stripped'] = {
      description: 'The MAC attributes of seq 5 were removed, in a stream whose other records carry one.',
      files: { [F]: lines(r) },
      keys: KEYS_ALL,
      expect: { ok: false, errors: [P('bad_signature', 5, 5, { reason: 'unsigned' })], info: [], streams: [baseStream] },
    };
  }
  return v;
}

/** Per-record vectors: canonical text, hash, HMAC and Ed25519 values, computed with node:crypto alone. */
function signatureVectors(): object {
  const records = makeSignedChain({ streamId: SA, n: 2, checkpointSigner: producer, checkpointEvery: 2 }).records; // 1 2 [3]
  const hmacSecret = Buffer.from(hmacValue.slice('base64:'.length), 'base64');
  const priv = createPrivateKey(readFileSync(key('producer.key.pem'), 'utf8'));
  const pub = createPublicKey(priv);
  const edKeyId = createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
  const hmacKeyId = createHash('sha256').update('otel-audit hmac key id').update(hmacSecret).digest('hex').slice(0, 16);
  return {
    description:
      'Per-record integrity values. For each record (its audit.integrity.* attributes, if any, are not part of the input): canonical = canonical form v1, sha256 = lowercase hex SHA-256 of its UTF-8 bytes, hmacSha256 = base64 HMAC-SHA256 under keys/hmac.key, ed25519 = base64 Ed25519 (RFC 8032) signature under keys/producer.key.pem.',
    keys: {
      hmac: { file: 'keys/hmac.key', keyId: hmacKeyId, keyIdInput: '"otel-audit hmac key id" || secret bytes' },
      ed25519: { privateKeyFile: 'keys/producer.key.pem', publicKeyFile: 'keys/producer.pub.pem', keyId: edKeyId, keyIdInput: 'SPKI DER of the public key' },
    },
    records: records.map((r) => {
      const clean = structuredClone(r);
      clean.attributes = clean.attributes!.filter((kv) => !kv.key.startsWith(INTEGRITY_PREFIX));
      const canonical = canonicalByHand(clean);
      return {
        record: clean,
        canonical,
        sha256: hashOf(canonical),
        hmacSha256: createHmac('sha256', hmacSecret).update(canonical, 'utf8').digest('base64'),
        ed25519: sign(null, Buffer.from(canonical, 'utf8'), priv).toString('base64'),
      };
    }),
  };
}

describe.skipIf(!WRITE)('write integrity vectors', () => {
  it('writes test/vectors/integrity', () => {
    for (const [name, vec] of Object.entries(vectors())) writeFileSync(join(DIR, 'streams', `${name}.json`), JSON.stringify(vec, null, 2) + '\n');
    writeFileSync(join(DIR, 'signatures.json'), JSON.stringify(signatureVectors(), null, 2) + '\n');
    expect(true).toBe(true);
  });
});
