import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { AuditLogRecordProcessor } from '/work/main/dist/index.js';
const dir = process.argv[2];
const p = new AuditLogRecordProcessor({ dir, file: 'journal', fsync: 'batch', exporter: { url: process.argv[3] }, replay: false });
const lp = new LoggerProvider({ processors: [p] });
const l = lp.getLogger('t');
for (let i = 0; i < 10; i++) l.emit({ eventName: 'user.login', body: 'ok ' + i, attributes: { 'audit.actor.id': 'u' + i, 'audit.action': 'LOGIN', 'audit.outcome': 'success' } });
await lp.forceFlush(); await lp.shutdown();
