import { describe, expect, it } from 'vitest';
import type { LogAttributes } from '../../src/otel/types.js';
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { createSelector, DEFAULT_AUDIT_LOGGER_NAME } from '../../src/select/selector.js';

/** A minimal record-like object: the selector only reads the scope name and the attributes. */
function record(scope: string, attributes: LogAttributes = {}): ReadWriteLogRecord {
  return { instrumentationScope: { name: scope, version: '1.0.0' }, attributes } as unknown as ReadWriteLogRecord;
}

describe('createSelector', () => {
  it('defaults to the logger name audit', () => {
    expect(DEFAULT_AUDIT_LOGGER_NAME).toBe('audit');
  });

  const cases: [label: string, loggerName: string | undefined, scope: string, attributes: LogAttributes, selected: boolean][] = [
    ['default name, scope audit', undefined, 'audit', {}, true],
    ['default name, scope audit with attributes', undefined, 'audit', { foo: 1 }, true],
    ['default name, other scope', undefined, 'http', {}, false],
    ['default name, other scope with other attributes', undefined, 'http', { 'audit.outcome': 'success', 'user.id': 'u' }, false],
    ['default name, scope differs in case', undefined, 'Audit', {}, false],
    ['default name, scope with a prefix', undefined, 'my.audit', {}, false],
    ['default name, scope with a suffix', undefined, 'audit-extra', {}, false],
    ['default name, empty scope', undefined, '', {}, false],
    ['default name, audit.action under another logger', undefined, 'http', { 'audit.action': 'LOGIN' }, true],
    ['default name, empty audit.action under another logger', undefined, 'http', { 'audit.action': '' }, true],
    ['default name, numeric audit.action under another logger', undefined, 'http', { 'audit.action': 0 }, true],
    ['default name, null audit.action under another logger', undefined, 'http', { 'audit.action': null }, true],
    ['default name, undefined audit.action under another logger', undefined, 'http', { 'audit.action': undefined }, false],
    ['custom name, matching scope', 'security', 'security', {}, true],
    ['custom name, scope audit is no longer special', 'security', 'audit', {}, false],
    ['custom name, other scope', 'security', 'http', {}, false],
    ['custom name, audit.action under any logger', 'security', 'http', { 'audit.action': 'DELETE' }, true],
    ['custom name, audit.action under the audit logger', 'security', 'audit', { 'audit.action': 'DELETE' }, true],
    ['explicit default name', 'audit', 'audit', {}, true],
  ];
  it.each(cases)('%s', (_label, loggerName, scope, attributes, selected) => {
    const select = loggerName === undefined ? createSelector() : createSelector(loggerName);
    expect(select(record(scope, attributes))).toBe(selected);
  });

  it('does not modify the record', () => {
    const attributes: LogAttributes = { 'audit.action': 'X', k: 'v' };
    const r = record('other', attributes);
    createSelector()(r);
    expect(r.attributes).toEqual({ 'audit.action': 'X', k: 'v' });
    expect(r.instrumentationScope).toEqual({ name: 'other', version: '1.0.0' });
  });

  it('selects a real SDK log record by scope and by attribute', async () => {
    const { LoggerProvider } = await import('@opentelemetry/sdk-logs');
    const seen: [string, boolean][] = [];
    const select = createSelector();
    const provider = new LoggerProvider({
      processors: [
        {
          onEmit: (r: ReadWriteLogRecord) => void seen.push([String(r.body), select(r)]),
          forceFlush: async () => {},
          shutdown: async () => {},
        },
      ],
    });
    provider.getLogger('audit').emit({ body: 'a' });
    provider.getLogger('app').emit({ body: 'b' });
    provider.getLogger('app').emit({ body: 'c', attributes: { 'audit.action': 'LOGIN' } });
    await provider.shutdown();
    expect(seen).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
    ]);
  });
});
