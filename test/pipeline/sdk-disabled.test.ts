/**
 * OTEL_SDK_DISABLED=true (OTel SDK environment spec): no SDK runs, so audit records are not recorded. Found by
 * review: getAuditLogger() threw "no AuditLogRecordProcessor exists" under the zero-code entry (which installs
 * nothing then), and under NodeSDK (which never registers the processor) record() threw a set-up error the user did
 * not make: the app crashed. Now the receipt says the record was not kept, and the app goes on.
 */
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { AuditConfigError, AuditLossError, AuditValidationError } from '../../src/core/errors.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { loginEvent } from '../helpers/pipeline.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

it('no processor (the zero-code entry installed none): record() rejects with AuditLossError naming OTEL_SDK_DISABLED', async () => {
  expect(AuditLogRecordProcessor.current()).toBeUndefined();
  expect(() => getAuditLogger()).toThrow(AuditConfigError); // without the variable: a set-up error, as before
  vi.stubEnv('OTEL_SDK_DISABLED', 'TRUE');
  const audit = getAuditLogger();
  await expect(audit.record(loginEvent(1))).rejects.toThrow(AuditLossError);
  await expect(audit.record(loginEvent(1))).rejects.toThrow(/OTEL_SDK_DISABLED=true/);
  // An invalid event fails as it would with the SDK running.
  expect(() => audit.record({ action: 'X' } as never)).toThrow(AuditValidationError);
});

it('a processor on no provider (NodeSDK with the SDK disabled): record() rejects with AuditLossError, not a set-up error', async () => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const processor = new AuditLogRecordProcessor({ dir: join(dir, 'audit'), exporter: { url: 'http://127.0.0.1:9/v1/logs' }, replay: false });
  cleanups.push(() => processor.shutdown());
  expect(() => getAuditLogger({ processor }).record(loginEvent(1))).toThrow(AuditConfigError);
  vi.stubEnv('OTEL_SDK_DISABLED', 'true');
  await expect(getAuditLogger({ processor }).record(loginEvent(2))).rejects.toThrow(/OTEL_SDK_DISABLED=true/);
});
