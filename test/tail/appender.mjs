// A real producer for the tail tests: the built package (ESM), configured by env only, appending
// APPEND_COUNT audit events (actor "<ACTOR_PREFIX>-<i>") to the journal in OTEL_AUDIT_DIR, one every
// APPEND_DELAY_MS, each awaited until durable; then a clean shutdown (the stream's end record).
// Prints {"event":"started","streamId"}, {"durable":<recordId>,"seq"} per record and {"event":"done"}.
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { auditProcessorFromEnv, getAuditLogger } from '../../dist/index.js';

const processor = auditProcessorFromEnv();
const provider = new LoggerProvider({ processors: [processor] });
const audit = getAuditLogger({ processor, loggerProvider: provider });
const count = Number(process.env.APPEND_COUNT ?? '10');
const delay = Number(process.env.APPEND_DELAY_MS ?? '0');
const prefix = process.env.ACTOR_PREFIX ?? 'actor';
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

out({ event: 'started', streamId: processor.streamId });
for (let i = 0; i < count; i++) {
  const r = await audit.record({
    name: 'document.update',
    action: 'UPDATE',
    outcome: i % 4 === 3 ? 'failure' : 'success',
    actor: { id: `${prefix}-${i}`, type: 'user' },
    target: { id: `doc-${i}`, type: 'document' },
    details: { padding: 'p'.repeat(600) },
  });
  out({ durable: r.recordId, seq: r.sequence });
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
}
await processor.shutdownWithReport();
await provider.shutdown();
out({ event: 'done' });
