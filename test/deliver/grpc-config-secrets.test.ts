/**
 * gRPC metadata that grpc-js refuses: its error quotes the value, a bearer token as often as not. Code-option
 * headers and OTEL_EXPORTER_OTLP_[LOGS_]HEADERS alike must stop start-up with an AuditConfigError (exit 78 under
 * the zero-code entry) that names no value.
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditConfigError } from '../../src/core/errors.js';
import { OtlpSender } from '../../src/deliver/otlp-sender.js';

const TOKEN = 's3cr\u00e9t-TOKEN';

function refused(make: () => unknown): AuditConfigError {
  let caught: unknown;
  try {
    make();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AuditConfigError);
  const e = caught as AuditConfigError;
  for (const shown of [e.message, e.stack ?? '', inspect(e)]) {
    expect(shown).not.toContain('s3cr');
    expect(shown).not.toContain('TOKEN');
  }
  return e;
}

describe('gRPC headers grpc-js refuses', () => {
  afterEach(() => vi.unstubAllEnvs());

  it.each([
    ['a non-ASCII value', { authorization: `Bearer ${TOKEN}` }],
    ['a line break in a value', { authorization: 'Bearer s3cr-TOKEN\n' }],
    ['an upper-case-only invalid name', { 'Bad Key': 'Bearer s3cr-TOKEN' }],
  ])('exporter.headers with %s: AuditConfigError naming the header, not its value', (_what, headers) => {
    const e = refused(() => new OtlpSender({ protocol: 'grpc', url: 'http://127.0.0.1:1', headers }));
    expect(e.message).toMatch(/^otel-audit option exporter\.headers is invalid \(values hidden\): ".*" is not valid gRPC metadata/);
  });

  it('OTEL_EXPORTER_OTLP_HEADERS with a value grpc-js refuses: AuditConfigError, the value hidden', () => {
    vi.stubEnv('OTEL_EXPORTER_OTLP_HEADERS', `authorization=Bearer%20${encodeURIComponent(TOKEN)}`);
    const e = refused(() => new OtlpSender({ protocol: 'grpc', url: 'http://127.0.0.1:1' }));
    expect(e.message).toContain('the OTLP gRPC transport refused its configuration');
    expect(e.message).toContain('OTEL_EXPORTER_OTLP_[LOGS_]HEADERS');
  });

  it('valid metadata still makes a sender', async () => {
    const sender = new OtlpSender({ protocol: 'grpc', url: 'http://127.0.0.1:1', headers: { authorization: 'Bearer abc-123' } });
    await sender.shutdown();
  });
});
