/**
 * The stamps onEmit puts on the live SDK record, where the processors after this one see them: the record id,
 * the stream id and the sequence number (ARCHITECTURE.md §2.3). The hashes, validation marks and integrity
 * attributes are computed later, when the record is sealed, and exist only in what otel-audit journals and
 * ships: a later processor would otherwise read a record that changes after its own onEmit.
 */
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import * as A from '../core/attributes.js';
import type { AnyValue } from '../otel/types.js';


/**
 * Puts the stamps on the live record. The SDK's setAttribute validates every value — a WeakSet and a truncation
 * pass, ~0.5 µs a call — so the stamps, strings and numbers built here and valid by construction, are assigned
 * directly to the record's `attributes`, a plain object that onEmit may change (sdk-logs). The property names
 * are literals: V8 compiles `o['literal'] = v` as a named store, which keeps an object with many properties in
 * fast mode, where a computed key (`o[KEY] = v`) beyond ~16 properties turns the SDK's attributes object into a
 * hash table (measured: ~1 KB allocated per record, and slower reads for every processor after this one). The
 * `satisfies` clauses tie each literal to its constant.
 *
 * A record that already dropped attributes for the SDK's count limit gets its stamps through setAttribute,
 * which applies the limit; the sealed snapshot carries every stamp either way.
 */
export function stampLiveRecord(record: ReadWriteLogRecord, recordId: string | undefined, streamId: string, seq: number): void {
  if (record.droppedAttributesCount === 0 && Object.isExtensible(record.attributes)) {
    const a = record.attributes as Record<string, AnyValue>;
    if (recordId !== undefined) a['audit.record.id' satisfies typeof A.ATTR_RECORD_ID] = recordId;
    a['audit.sequence.stream_id' satisfies typeof A.ATTR_SEQ_STREAM_ID] = streamId;
    a['audit.sequence.number' satisfies typeof A.ATTR_SEQ_NUMBER] = seq;
    return;
  }
  if (recordId !== undefined) record.setAttribute(A.ATTR_RECORD_ID, recordId);
  record.setAttribute(A.ATTR_SEQ_STREAM_ID, streamId);
  record.setAttribute(A.ATTR_SEQ_NUMBER, seq);
}
