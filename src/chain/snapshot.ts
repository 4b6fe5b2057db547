/**
 * What sealing reads of a record, copied in onEmit: the snapshot that is sealed later (chain/seal-queue.ts).
 * A processor after this one may still change the live record in its own onEmit (setAttribute, setBody); what
 * otel-audit hashes and ships is the record as it was when it reached this processor (ARCHITECTURE.md §2.3).
 *
 * The copy is shallow: the attributes object is copied, the values are not. An array or map value that the
 * caller changes in place after emit() returned is sealed as it is then — the same as the SDK's batch
 * processor, which serializes at export. What is hashed is still exactly what is shipped.
 */
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import * as A from '../core/attributes.js';

export type SealInput = Readonly<
  Pick<
    ReadWriteLogRecord,
    | 'hrTime'
    | 'hrTimeObserved'
    | 'spanContext'
    | 'severityNumber'
    | 'severityText'
    | 'body'
    | 'eventName'
    | 'attributes'
    | 'droppedAttributesCount'
    | 'resource'
    | 'instrumentationScope'
  >
>;

/** The fields sealing reads, with a copy of the attributes object (own enumerable properties, as the SDK keeps them). */
export function snapshotRecord(r: ReadWriteLogRecord, recordId?: string): SealInput {
  // Typed as the SDK line in use types it (0.2xx and 3.x differ).
  const attributes: SealInput['attributes'] = { ...r.attributes };
  // The typed API's record id, should the live record's have been cut (processor.ts, map/typed-slot.ts).
  if (recordId !== undefined) (attributes as Record<string, unknown>)[A.ATTR_RECORD_ID] = recordId;
  return {
    hrTime: r.hrTime,
    hrTimeObserved: r.hrTimeObserved,
    spanContext: r.spanContext,
    severityNumber: r.severityNumber,
    severityText: r.severityText,
    body: r.body,
    eventName: r.eventName,
    attributes,
    droppedAttributesCount: r.droppedAttributesCount,
    resource: r.resource,
    instrumentationScope: r.instrumentationScope,
  };
}
