// The child of the system-call durability tests, run under strace: the built package (dist/) with a real
// sdk-logs LoggerProvider, emitting raw audit records one at a time. Around every emit it writes a marker
// straight to fd 1 (a file, so the write shows in the trace with its path): `@@begin N@@` before the emit and
// `@@end N@@` after it returned. What the processor did for record N — and whether it finished it before
// emit returned — lies between the two in the trace.
//
// Env (besides OTEL_AUDIT_* / OTEL_EXPORTER_OTLP_*):
//   EMIT_COUNT   records (default 30)
//   EMIT_GAP_MS  pause between emits, so timers (state saves), exports and replay run in between (default 15)
import { writeSync } from 'node:fs';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { AuditLogRecordProcessor } from '../../dist/index.js';

const mark = (s) => writeSync(1, `@@${s}@@\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Fast retries: a batch the collector refuses for good is set aside (rejected/) within the run.
const processor = new AuditLogRecordProcessor({ retryMinMillis: 20, retryMaxMillis: 40, exportTimeoutMillis: 3000 });
const provider = new LoggerProvider({ processors: [processor] });
const logger = provider.getLogger('audit');
writeSync(1, JSON.stringify({ event: 'started', streamId: processor.streamId, pid: process.pid }) + '\n');

const count = Number(process.env.EMIT_COUNT ?? '30');
const gap = Number(process.env.EMIT_GAP_MS ?? '15');
for (let i = 0; i < count; i++) {
  mark(`begin ${i}`);
  logger.emit({
    attributes: {
      'audit.actor.id': `user-${i}`,
      'audit.actor.type': 'user',
      'audit.action': 'LOGIN',
      'audit.outcome': 'success',
      'audit.details.padding': 'x'.repeat(300), // a few records per 4 KiB segment: rotations within the run
    },
  });
  mark(`end ${i}`);
  await sleep(gap);
}
mark('shutdown');
await provider.shutdown();
mark('exit');
