/**
 * The resource and instrumentation scope of a record, encoded once as OTLP/JSON and cached by object
 * identity (the SDK guarantees stable identity for both). Not part of the canonical form: a collector may
 * add resource attributes without breaking verification. A resource whose detectors are still settling
 * (`asyncAttributesPending`, e.g. host.id read from a file) is encoded again once it has settled, so later
 * records carry the whole resource instead of the first snapshot forever.
 */
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { SdkInstrumentationScope as InstrumentationScope, SdkResource as Resource } from '../otel/types.js';
import { asText } from '../otlp/describe.js';
import { EncodeProblems, encodeAttributes } from '../otlp/encode.js';
import type { RecordGroup } from '../otlp/types.js';

export type { RecordGroup };

const cache = new WeakMap<Resource, WeakMap<InstrumentationScope, RecordGroup>>();

function encodeResource(resource: Resource): string {
  const kv = encodeAttributes(resource.attributes, new EncodeProblems());
  return kv.otlp === '' ? '{}' : `{"attributes":[${kv.otlp}]}`;
}

/**
 * A JSON string of `s` with lone surrogates replaced by U+FFFD, as every other string is (otlp/encode.ts):
 * JSON.stringify escapes one as `\ud800`, which JSON readers accept but protobuf (UTF-8) cannot carry, so an
 * http/protobuf export of the batch would be refused for good. The SDK passes a scope's fields through unchecked, so
 * anything may arrive here (asText): a record that could not be grouped could not be sealed, nor could the record
 * taking its place in the chain, which has the same scope.
 */
const jsonString = (s: unknown): string => JSON.stringify(asText(s).toWellFormed());

export function encodeScope(scope: InstrumentationScope & { attributes?: Record<string, unknown> }): string {
  let s = `{"name":${jsonString(scope.name)}`;
  if (scope.version) s += `,"version":${jsonString(scope.version)}`;
  if (scope.attributes !== undefined) {
    const kv = encodeAttributes(scope.attributes, new EncodeProblems());
    if (kv.otlp !== '') s += `,"attributes":[${kv.otlp}]`;
  }
  return s + '}';
}

export function groupOf(record: Pick<ReadWriteLogRecord, 'resource' | 'instrumentationScope'>): RecordGroup {
  let byScope = cache.get(record.resource);
  if (byScope === undefined) cache.set(record.resource, (byScope = new WeakMap()));
  let g = byScope.get(record.instrumentationScope);
  // Encoded while the resource was still settling: encoded again once it has (one group object meanwhile).
  if (g === undefined || (pending.has(g) && record.resource.asyncAttributesPending !== true)) {
    g = encodeGroup(record);
    byScope.set(record.instrumentationScope, g);
    if (record.resource.asyncAttributesPending === true) {
      pending.add(g);
      // Nothing settles them unless someone waits (the stock BLRP does, before each export): do it here.
      record.resource.waitForAsyncAttributes?.().catch(() => undefined);
    }
  }
  return g;
}

/** Groups encoded from a resource whose async attributes had not settled yet. */
const pending = new WeakSet<RecordGroup>();

function encodeGroup(record: Pick<ReadWriteLogRecord, 'resource' | 'instrumentationScope'>): RecordGroup {
  const scopeSchema = record.instrumentationScope.schemaUrl;
  const resourceSchema = record.resource.schemaUrl;
  return {
    prefix: `{"resource":${encodeResource(record.resource)},"scopeLogs":[{"scope":${encodeScope(record.instrumentationScope)},"logRecords":[`,
    suffix:
      ']' +
      (scopeSchema ? `,"schemaUrl":${jsonString(scopeSchema)}` : '') +
      '}]' +
      (resourceSchema ? `,"schemaUrl":${jsonString(resourceSchema)}` : '') +
      '}',
  };
}
