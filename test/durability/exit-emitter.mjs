// The child of test/durability/exit-fsync.test.ts, run under strace: the built package (dist/) with a real sdk-logs
// LoggerProvider, EMIT_COUNT raw audit records emitted in one turn (default 50), then process.exit(0) — no shutdown,
// no group commit: what is in the journal afterwards is what the exit hook wrote.
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { AuditLogRecordProcessor } from '../../dist/index.js';

const processor = new AuditLogRecordProcessor();
const provider = new LoggerProvider({ processors: [processor] });
const logger = provider.getLogger('audit');
const count = Number(process.env.EMIT_COUNT ?? '50');
for (let i = 0; i < count; i++) {
  logger.emit({
    attributes: {
      'audit.record.id': `exit-${i}`,
      'audit.actor.id': `user-${i}`,
      'audit.actor.type': 'user',
      'audit.action': 'LOGIN',
      'audit.outcome': 'success',
    },
  });
}
process.exit(0);
