/**
 * Zero-code entry: `node --import otel-audit/register app.js` (or `-r otel-audit/register` for CommonJS).
 *
 * For apps without an OTel SDK of their own: installs a global LoggerProvider whose only processor is the
 * audit processor configured from the environment, and shuts it down cleanly on exit and on SIGTERM/SIGINT.
 * An app that starts NodeSDK itself should pass `auditProcessorFromEnv()` to NodeSDK instead.
 *
 * Signals: the handler flushes and closes the pipeline (bounded by OTEL_BLRP_EXPORT_TIMEOUT), then, if no
 * other handler of the app is listening, re-raises the signal so the process ends as it would have.
 */
import { detectResources, envDetector, defaultResource } from '@opentelemetry/resources';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { logsApi } from './otel/logs-api.js';
import { auditProcessorFromEnv } from './processor.js';

const processor = auditProcessorFromEnv();
const provider = new LoggerProvider({
  resource: defaultResource().merge(detectResources({ detectors: [envDetector] })),
  processors: [processor],
});
// api-logs (0.2xx) answers with the global provider, api 1.10 (3.x) with whether it took this one.
const taken = logsApi().setGlobalLoggerProvider(provider);
if (taken !== true && taken !== provider) {
  process.stderr.write('otel-audit/register: a global LoggerProvider is already set; audit records go through that one — register the audit processor on it instead\n');
}

let closing: Promise<void> | undefined;
const close = (): Promise<void> => (closing ??= provider.shutdown().catch(() => undefined));

process.once('beforeExit', () => void close());
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  const onSignal = (): void => {
    void close().then(() => {
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  process.once(signal, onSignal);
}

export { processor, provider };
