/**
 * Zero-code entry: `node --import otel-audit/register app.js` (or `-r otel-audit/register` for CommonJS).
 *
 * For apps without an OTel SDK of their own: installs a global LoggerProvider whose only processor is the
 * audit processor configured from the environment, and shuts it down cleanly on exit and on SIGTERM/SIGINT.
 * An app that starts NodeSDK itself should pass `auditProcessorFromEnv()` to NodeSDK instead.
 *
 * Resource: detected as NodeSDK detects it — OTEL_NODE_RESOURCE_DETECTORS (default `all`: host, os,
 * serviceinstance, process, env), plus `container` (container.id, where readable) — over the SDK's default
 * resource, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES apply, and win over what the other detectors find.
 * README, "Zero-code", lists the attributes.
 *
 * OTEL_SDK_DISABLED=true installs nothing (said once on stderr). A bad OTEL_AUDIT_* value stops the process
 * with one line on stderr and exit code 78 (EX_CONFIG), not a stack trace: there is no app code yet to catch it.
 *
 * Signals (SIGTERM, SIGINT, SIGHUP), while no other listener is there (core/exit-hooks.ts): the pipeline is
 * flushed and closed (bounded by OTEL_BLRP_EXPORT_TIMEOUT), then the signal is raised again so the process ends as
 * it would have. Once the app or a library listens for one, that one decides alone.
 */
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { onSignalGracefully } from './core/exit-hooks.js';
import { containerDetector } from './otel/container-detector.js';
import { logsApi } from './otel/logs-api.js';
import { sdkDisabled } from './otel/sdk-disabled.js';
// Through the package's main entry, which the build leaves as an import of dist/index.(c)js (tsup.config.ts): an
// app that loads `otel-audit` the way this hook was loaded (import with --import, require with -r) shares this
// processor's classes, and `e instanceof AuditLossError` holds. A CommonJS app under --import gets the other build's
// classes: hence -r for CommonJS (README, "Zero-code").
import { AuditConfigError, auditProcessorFromEnv, type AuditLogRecordProcessor } from './index.js';

/** Exit code for a configuration error (sysexits.h EX_CONFIG). */
const EX_CONFIG = 78;

// In NodeSDK's `all` order (sdk-node utils.ts), env last: detectResources merges each detector over the ones
// before it, so the last wins, and OTEL_RESOURCE_ATTRIBUTES must override host.name, service.instance.id...
const DETECTORS = {
  host: hostDetector,
  os: osDetector,
  serviceinstance: serviceInstanceIdDetector,
  process: processDetector,
  container: containerDetector,
  env: envDetector,
} as const;

/**
 * OTEL_NODE_RESOURCE_DETECTORS as NodeSDK reads it: `all` (default), `none`, or a comma-separated list. A list
 * keeps its order, except that env goes last wherever it is named: what the operator set explicitly wins.
 */
function detectorsFromEnv(): (typeof DETECTORS)[keyof typeof DETECTORS][] {
  const names = (process.env.OTEL_NODE_RESOURCE_DETECTORS ?? 'all').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0 || names.includes('all')) return Object.values(DETECTORS);
  if (names.includes('none')) return [];
  const out = [];
  for (const n of names) {
    if (n === 'env') continue;
    if (Object.hasOwn(DETECTORS, n)) out.push(DETECTORS[n as keyof typeof DETECTORS]);
    else process.stderr.write(`otel-audit/register: unknown resource detector ${JSON.stringify(n)} in OTEL_NODE_RESOURCE_DETECTORS (known: all, none, ${Object.keys(DETECTORS).join(', ')})\n`);
  }
  if (names.includes('env')) out.push(DETECTORS.env);
  return out;
}

function install(): { processor: AuditLogRecordProcessor; provider: LoggerProvider } | undefined {
  if (sdkDisabled()) {
    process.stderr.write('otel-audit/register: OTEL_SDK_DISABLED=true: no LoggerProvider installed, audit records are not recorded\n');
    return undefined;
  }
  let processor: AuditLogRecordProcessor;
  try {
    processor = auditProcessorFromEnv();
  } catch (e) {
    if (!(e instanceof AuditConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(EX_CONFIG);
  }
  processor._zeroCode = true;
  const resource = defaultResource().merge(detectResources({ detectors: detectorsFromEnv() }));
  const provider = new LoggerProvider({ resource, processors: [processor] });
  // api-logs (0.2xx) answers with the global provider, api 1.10 (3.x) with whether it took this one.
  const taken = logsApi().setGlobalLoggerProvider(provider);
  if (taken !== true && taken !== provider) {
    process.stderr.write('otel-audit/register: a global LoggerProvider is already set; audit records go through that one — register the audit processor on it instead\n');
  }

  let closing: Promise<void> | undefined;
  // The processor first, the provider after it: the SDK drops a record emitted after its provider's shutdown began
  // without telling any processor, so while the stream closes (the collector waited for) the app's Logs API
  // records must still reach onEmit, which refuses them loudly (LOST) rather than have them vanish.
  const close = (): Promise<void> =>
    (closing ??= processor
      .shutdown()
      .catch(() => undefined)
      .then(() => provider.shutdown())
      .catch(() => undefined));
  process.once('beforeExit', () => void close());
  // While no other listener is there (the app's, signal-exit's… decide alone: core/exit-hooks.ts). SIGHUP too: an app
  // that reloads on it listens for it, and then this does not run (found in review: a first version shut the
  // pipeline down under an app's reload). The app goes on running until the signal is raised again: so the wait for the collector comes first, as a flush,
  // during which the app's records are still taken (journaled, and sent while the collector answers); then the
  // shutdown closes the stream within what is left of the one bound (records made after its end marker are refused,
  // reported LOST). A second signal meanwhile (Ctrl-C gives the terminal's and npm's forwarded one) is taken by this
  // same shutdown: found in review, the second killed the process at once, without the exit journaling.
  onSignalGracefully(
    ['SIGTERM', 'SIGINT', 'SIGHUP'],
    () => {
      const deadline = Date.now() + processor.options.exportTimeoutMillis;
      return processor
        .forceFlush()
        .catch(() => undefined)
        .then(() => {
          processor._shutdownBy(deadline);
          return close();
        });
    },
    processor.options.exportTimeoutMillis,
  );
  return { processor, provider };
}

const installed = install();
export const processor = installed?.processor;
export const provider = installed?.provider;
