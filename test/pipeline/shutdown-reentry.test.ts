/**
 * A record emitted while shutdown seals the queue (here: from a body getter of a record emitted just before
 * shutdown; a diag logger that emits audit records does the same) is refused as after shutdown. It was accepted
 * after the stream's end marker, and verify then called the untouched stream forged.
 */
import { afterEach, expect, it } from 'vitest';
import { verifyFiles } from '../../src/verify/index.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { journalRecords, recordsOfFile, seqOf } from '../helpers/records.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

const VALID = { 'audit.action': 'READ', 'audit.outcome': 'success', 'audit.actor.id': 'svc', 'audit.actor.type': 'service' } as const;

it('no audit record is accepted after the stream end marker', async () => {
  p = await makePipeline();
  const logger = p.provider.getLogger('audit');
  let fired = false;
  const body = {
    get msg(): string {
      if (!fired) {
        fired = true;
        logger.emit({ eventName: 'inner.emit', attributes: { ...VALID, inner: true } });
      }
      return 'outer';
    },
  };
  logger.emit({ eventName: 'outer.emit', body: body as never, attributes: { ...VALID } });
  await p.processor.shutdown(); // same tick: the outer record is sealed by shutdown's drain
  expect(fired).toBe(true);

  const local = journalRecords(p.auditDir);
  const names = local.map((r) => `${seqOf(r)}:${r.eventName}`);
  // The end marker must be the last record of the stream.
  expect(names[names.length - 1]).toMatch(/audit\.stream\.end$/);

  const v = await verifyFiles([p.auditDir]);
  expect(v.problems.filter((x) => x.severity === 'error')).toEqual([]);
  const c = await verifyFiles([p.collectorFile]);
  expect(recordsOfFile(p.collectorFile).length).toBeGreaterThan(0);
  expect(c.problems.filter((x) => x.severity === 'error')).toEqual([]);
});
