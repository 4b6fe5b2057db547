import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { AuditLogRecordProcessor } from '../dist/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const mode = process.argv[2] ?? 'journal';
const p = new AuditLogRecordProcessor({ dir: mkdtempSync(join(tmpdir(), 'prof-')), file: mode, exporter: { url: 'http://127.0.0.1:9/v1/logs' }, replay: false });
const provider = new LoggerProvider({ processors: mode === 'none' ? [] : [p] });
const logger = provider.getLogger('audit');
const mk = (i) => ({ eventName: 'user.login', severityNumber: 9, body: 'login ok', attributes: { 'audit.actor.id': 'user-' + (i % 1000), 'audit.actor.type': 'user', 'audit.action': 'LOGIN', 'audit.outcome': 'success', 'audit.target.id': 'acct-' + (i % 97), 'audit.target.type': 'account', 'audit.source.id': '10.1.2.3', 'audit.source.type': 'ipv4', 'client.address': '10.1.2.3', 'session.id': 's-' + (i % 50), 'http.request.method': 'POST', 'url.path': '/login', 'user.roles': ['reader', 'writer'], 'request.size': i, 'latency.ms': 12.5 } });
const N = 50000;
const t0 = process.hrtime.bigint();
let sync = 0n;
for (let i = 0; i < N; i++) { const r = mk(i); const a = process.hrtime.bigint(); logger.emit(r); sync += process.hrtime.bigint() - a; if (i % 1000 === 999) await new Promise((r) => setImmediate(r)); }
console.log('sync emit µs', Number(sync) / N / 1000);
const t1 = process.hrtime.bigint();
console.log(mode, 'per emit µs', Number(t1 - t0) / N / 1000);
process.exit(0);
