/**
 * A minimal writable log record for records the processor emits itself (the stream end marker), so they go
 * through exactly the same sealing code as application records.
 */
import type { HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { AnyValue, LogAttributes, SdkInstrumentationScope, SdkResource } from '../otel/types.js';

type SeverityNumber = NonNullable<ReadWriteLogRecord['severityNumber']>;
type LogBody = AnyValue;

export class SyntheticRecord implements ReadWriteLogRecord {
  hrTime: HrTime;
  hrTimeObserved: HrTime;
  spanContext?: SpanContext;
  severityText?: string;
  severityNumber?: SeverityNumber;
  body?: LogBody;
  eventName?: string;
  droppedAttributesCount = 0;
  // Null prototype: an attribute named __proto__ is data here, as in the SDK's own records.
  readonly attributes: LogAttributes = Object.create(null) as LogAttributes;

  constructor(
    readonly resource: SdkResource,
    readonly instrumentationScope: SdkInstrumentationScope,
    init: { eventName: string; attributes: LogAttributes; severityNumber?: SeverityNumber; severityText?: string },
  ) {
    const now = Date.now();
    this.hrTime = [Math.floor(now / 1000), (now % 1000) * 1e6];
    this.hrTimeObserved = this.hrTime;
    this.eventName = init.eventName;
    if (init.severityNumber !== undefined) this.severityNumber = init.severityNumber;
    if (init.severityText !== undefined) this.severityText = init.severityText;
    this.setAttributes(init.attributes);
  }

  setAttribute(key: string, value?: AnyValue): this {
    if (value !== undefined) this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: LogAttributes): this {
    for (const [k, v] of Object.entries(attributes)) this.setAttribute(k, v);
    return this;
  }
  setBody(body: LogBody): this {
    this.body = body;
    return this;
  }
  setEventName(eventName: string): this {
    this.eventName = eventName;
    return this;
  }
  setSeverityNumber(n: SeverityNumber): this {
    this.severityNumber = n;
    return this;
  }
  setSeverityText(t: string): this {
    this.severityText = t;
    return this;
  }
}
