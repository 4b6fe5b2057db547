/**
 * An example service, configured only by environment variables and registered through NodeSDK, that
 * records a realistic mix of audit events. Run by `otel-audit demo` (`npm run demo`), which is why the package
 * ships it as dist/examples/service.js; a template for your own set-up.
 *
 *   OTEL_SERVICE_NAME=shop OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
 *   OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none node dist/examples/service.js
 *
 * Knobs (for the demo): DEMO_EVENTS (default 1000), DEMO_RATE events/s (default 1000; 0 = as fast as possible).
 * Prints JSON lines on stdout: progress while running, then a final `done` line with what happened.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { auditProcessorFromEnv, getAuditLogger, type AuditEvent } from 'otel-audit';

const processor = auditProcessorFromEnv();
const sdk = new NodeSDK({ logRecordProcessors: [processor] });
sdk.start();
const audit = getAuditLogger();

const total = Number(process.env.DEMO_EVENTS ?? 1000);
const rate = Number(process.env.DEMO_RATE ?? 1000);

const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
const ips = ['203.0.113.7', '198.51.100.23', '2001:db8::42', 'build-agent-3.internal'];

/** A deterministic but varied stream of events: logins, denials, resource changes, exports. */
function eventAt(i: number): AuditEvent {
  const user = users[i % users.length]!;
  const address = ips[i % ips.length]!;
  switch (i % 6) {
    case 0:
      return { name: 'user.login', action: 'LOGIN', outcome: 'success', actor: { id: user, type: 'user' }, source: { address }, session: { id: `s-${i % 97}` } };
    case 1:
      return {
        name: 'user.login',
        action: 'LOGIN',
        outcome: 'failure',
        reason: 'invalid password',
        actor: { id: user, type: 'user' },
        source: { address },
        error: { type: 'InvalidCredentials' },
      };
    case 2:
      return {
        name: 'container.create',
        action: 'CREATE',
        outcome: 'success',
        actor: { id: 'deployer', type: 'service' },
        target: { id: `ctr-${i}`, type: 'container' },
        request: { method: 'POST', path: '/v1/containers' },
        details: { image: 'registry.example/shop:1.4.2', replicas: 3 },
      };
    case 3:
      return {
        name: 'permission.grant',
        action: 'UPDATE',
        outcome: 'success',
        actor: { id: 'carol', type: 'user', roles: ['admin'] },
        target: { id: `user/${user}`, type: 'user' },
        details: { role: 'reader', 'grant.ticket': `SEC-${1000 + i}` },
        message: `granted reader to ${user}`,
      };
    case 4:
      return {
        name: 'report.export',
        action: 'EXPORT',
        outcome: i % 12 === 4 ? 'failure' : 'success',
        actor: { id: user, type: 'user' },
        target: { id: `report-${i % 13}`, type: 'report' },
        ...(i % 12 === 4 ? { reason: 'quota exceeded' } : {}),
        details: { rows: i * 7, format: 'csv' },
      };
    default:
      return { name: 'job.run', action: 'EXECUTE', outcome: 'success', actor: { id: 'scheduler', type: 'system' }, target: { id: 'nightly-reindex', type: 'job' } };
  }
}

const say = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');

const started = Date.now();
const receipts: Promise<unknown>[] = [];
for (let i = 0; i < total; i++) {
  receipts.push(audit.record(eventAt(i)));
  if (i % 100 === 99) {
    say({ ...processor.stats(), event: 'progress', recorded: i + 1 });
    const due = rate > 0 ? started + ((i + 1) * 1000) / rate : 0;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  }
}
const settled = await Promise.allSettled(receipts);
const durable = settled.filter((s) => s.status === 'fulfilled').length;
const report = await processor.shutdownWithReport();
const replayed = await processor.replayed();
await sdk.shutdown();
say({
  event: 'done',
  emitted: total,
  durable,
  streamId: report.streamId,
  exported: report.exported,
  undelivered: report.undelivered,
  dropped: report.dropped,
  replayedStreams: replayed?.streams.length ?? 0,
  replayedRecords: replayed?.records ?? 0,
});
