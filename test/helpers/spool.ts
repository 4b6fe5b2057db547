/** A live-delivery journal (Spool) over a real directory, fsync `batch`, for tests of one stream. */
import { AuditMetrics } from '../../src/deliver/metrics.js';
import { Spool } from '../../src/deliver/spool.js';

export function testSpool(dir: string, streamId: string): Spool {
  return new Spool({
    dir,
    streamId,
    maxFileBytes: 64 << 20,
    fsync: 'batch',
    metrics: new AuditMetrics(undefined, { 'audit.sequence.stream_id': streamId }),
    failClosed: false,
    onRotate: undefined,
    onWritten: () => undefined,
    onError: (m) => {
      throw new Error(m);
    },
  });
}
