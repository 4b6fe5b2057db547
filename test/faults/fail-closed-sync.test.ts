/**
 * OTEL_AUDIT_ON_LOSS=throw: "record() throws AuditLossError" when the pipeline cannot take the record. record()
 * asks canAccept(), which ignores the records still waiting in the seal queue; onEmit then seals them first,
 * reaches maxPendingRecords and refuses the record — after record() decided not to throw: the record was lost,
 * and the caller that chose fail-closed only learned it from a rejected promise. The queue counts now.
 */
import { afterEach, expect, it } from 'vitest';
import { AuditLossError } from '../../src/core/errors.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

it('with onLossPolicy throw, a record refused for the memory bound throws synchronously', async () => {
  p = await makePipeline({ file: 'off', onLossPolicy: 'throw', maxQueueSize: 10, maxPendingRecords: 10 });
  p.collector.setFault({ mode: 'status', status: 503 });
  let rejected = 0;
  let thrown: unknown;
  try {
    for (let i = 0; i < 11; i++) p.audit.record(loginEvent(i)).catch(() => void rejected++);
  } catch (e) {
    thrown = e;
  }
  await new Promise((r) => setTimeout(r, 300));
  // Either record() threw, or nothing was lost.
  expect({ thrown: thrown instanceof AuditLossError, rejected }).toEqual({ thrown: true, rejected: 0 });
});
