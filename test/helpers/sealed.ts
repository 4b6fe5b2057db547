/** Sealed records for delivery-stage tests: a fixed group, and a body naming the record (`{"body":{"stringValue":…}}`). */
import type { RecordGroup } from '../../src/chain/group.js';
import type { SealedRecord } from '../../src/chain/seal.js';

export const TEST_GROUP: RecordGroup = { prefix: '{"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[', suffix: ']}]}' };

/** Record `seq` with body `text` (default `r<seq>`); hash and chain stamps are not what these tests look at. */
export const sealed = (seq: number, text = `r${seq}`): SealedRecord => ({
  seq,
  recordId: `r-${seq}`,
  hash: '0'.repeat(64),
  bytes: Buffer.from(`{"body":{"stringValue":"${text}"}}`),
  group: TEST_GROUP,
  invalid: false,
});

/** The seqs of the records in a request body made of `sealed` records, in order. */
export function seqsOf(body: string): number[] {
  return [...body.matchAll(/"stringValue":"r(\d+)"/g)].map((m) => Number(m[1]));
}

/** Like `sealed`, with the stream id and sequence number attributes that bisection and read-back filter on. */
export const sealedInStream = (seq: number, streamId: string, extraAttributes = ''): SealedRecord => ({
  ...sealed(seq),
  bytes: Buffer.from(
    `{"attributes":[{"key":"audit.sequence.stream_id","value":{"stringValue":"${streamId}"}},{"key":"audit.sequence.number","value":{"intValue":"${seq}"}}${extraAttributes}],"body":{"stringValue":"r${seq}"}}`,
  ),
});
