/**
 * What a verify worker sends back (src/verify/worker-protocol.ts) must decode to exactly the items it encoded,
 * in order: strings equal to the row before's are not sent (SAME), so runs of rows, rows after other items,
 * absent and repeated values are all checked here on random sequences.
 */
import { describe, expect, it } from 'vitest';
import type { ReadItem, RecordItem } from '../../src/verify/read-items.js';
import { decodeItems, encodeItems } from '../../src/verify/worker-protocol.js';
import { prng } from '../helpers/prng.js';

const FILE = '/j/audit-000001.jsonl';

function randomItems(rand: (n: number) => number, n: number): ReadItem[] {
  const streams = ['s-1', 's-2', '', 'ü-😀', 'x'.repeat(300)];
  const hex = (k: number): string => k.toString(16).padStart(64, '0');
  const ids = ['', 'id-1', '0d5c2f0e-6b0b-4a4e-9b1a-2c6f3c1d9e7a', 'ü'];
  const items: ReadItem[] = [];
  let prev: RecordItem | undefined;
  for (let k = 0; k < n; k++) {
    const r = rand(12);
    if (r === 0) {
      items.push({ kind: 'nonAudit', file: FILE, line: k + 1 });
      continue;
    }
    if (r === 1) {
      items.push({ kind: 'malformed', file: FILE, line: k + 1, message: `bad ${k}` });
      continue;
    }
    const item: RecordItem = {
      kind: 'record',
      file: FILE,
      line: 1 + rand(5) + k,
      streamId: rand(4) === 0 || prev === undefined ? streams[rand(streams.length)]! : prev.streamId,
      seq: 1 + rand(1e6),
      recordId: rand(3) === 0 ? ids[rand(ids.length)]! : `r-${rand(50)}`,
      end: rand(5) === 0,
      hash: hex(rand(40)),
    };
    if (item.end && rand(2) === 0) item.endEvent = true;
    // Usually linked to the row before, as a chain read in order is; sometimes not, or absent.
    const link = rand(4);
    if (link < 2 && prev !== undefined) item.previousHash = prev.hash;
    else if (link === 2) item.previousHash = hex(rand(40));
    const idLink = rand(4);
    if (idLink < 2 && prev !== undefined) item.previousRecordId = prev.recordId;
    else if (idLink === 2) item.previousRecordId = ids[rand(ids.length)]!;
    if (rand(3) === 0) {
      item.signature = { status: (['ok', 'bad', 'unknown_key', 'unchecked'] as const)[rand(4)]!, algorithm: ['HMAC-SHA256', 'EdDSA', ''][rand(3)]!, keyId: ['k1', ''][rand(2)]!, detail: ['', 'why'][rand(2)]! };
      // Which given key it verified under: what tells one stream's keys apart (integrity-check.ts).
      if (rand(2) === 0) item.signature.signedBy = ['EdDSA:0123456789abcdef', 'HMAC-SHA256:fedcba9876543210'][rand(2)]!;
    }
    if (rand(15) === 0) item.checkpoint = { status: 'unchecked', keyId: '', detail: '' };
    if (rand(15) === 0) item.previousStreamId = streams[rand(streams.length)]!;
    if (rand(15) === 0) item.unhashed = 'audit.integrity.note';
    items.push(item);
    if (item.checkpoint === undefined && item.previousStreamId === undefined && item.unhashed === undefined) prev = item;
    else if (rand(2) === 0) prev = item; // an item sent whole is not "the row before": the next must not refer to it
  }
  return items;
}

describe('worker protocol', () => {
  it('decodes to the items encoded, on 300 random sequences', () => {
    const rand = prng(0x9e7);
    for (let t = 0; t < 300; t++) {
      const items = randomItems(rand, rand(60));
      const back: ReadItem[] = [];
      // Through a structured clone, as postMessage sends it.
      decodeItems(FILE, structuredClone(encodeItems(items)), (i) => back.push(i));
      expect(back).toEqual(items);
    }
  });

  it('does not send a string equal to the row before’s again', () => {
    const hash = 'a'.repeat(64);
    const a: RecordItem = { kind: 'record', file: FILE, line: 1, streamId: 'stream', seq: 1, recordId: 'r1', end: false, hash };
    const b: RecordItem = { ...a, line: 2, seq: 2, recordId: 'r2', hash: 'b'.repeat(64), previousHash: hash, previousRecordId: 'r1' };
    expect(encodeItems([a, b]).text).toBe(`streamr1${hash}r2${'b'.repeat(64)}`);
  });
});
