/** The OS identity for CLI set-ups: defaults only, never over what the caller gave. */
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditValidationError } from '../../src/core/errors.js';
import type { AuditEvent } from '../../src/map/schema.js';
import { resolveOptions } from '../../src/config/options.js';
import { osIdentity, withOsIdentity, type AuditEventDraft } from '../../src/map/os-identity.js';
import { stringAttribute } from '../../src/otlp/decode.js';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';
import { verifyFiles } from '../../src/verify/index.js';

const me = userInfo().username;
const uid = process.geteuid!();

// Found in review: a uid with no passwd entry (a container) was named after $USER, which the starter sets at will.
it.skipIf(process.getuid?.() !== 0)('a uid with no passwd entry is uid:<n>, whatever $USER says', async () => {
  const dist = join(import.meta.dirname, '../../dist/index.js');
  // Loaded before the uid changes: the new uid may not read the repository (CI's scratch copy is in a 0700 directory).
  const script = `const { osIdentity } = await import(${JSON.stringify(new URL(`file://${dist}`).href)});
process.setgid(54321); process.setuid(54321);
console.log(JSON.stringify(osIdentity().actor));`;
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, USER: 'alice', USERNAME: 'alice' }, encoding: 'utf8' });
  expect(JSON.parse(out)).toEqual({ id: 'uid:54321', type: 'user', name: 'uid:54321' });
});

describe('withOsIdentity', () => {
  const base: AuditEventDraft = { action: 'EXECUTE', outcome: 'success' };
  it.each<[string, AuditEventDraft, Partial<AuditEvent>]>([
    ['no actor, no source: both filled, uid as process.user.id', base, { actor: { id: me, type: 'user', name: me }, source: { address: hostname() }, details: { 'process.user.id': uid } }],
    ['an actor given: kept, no uid added', { ...base, actor: { id: 'deployer', type: 'service' } }, { actor: { id: 'deployer', type: 'service' }, source: { address: hostname() } }],
    ['a source given: kept', { ...base, source: { address: '203.0.113.7' } }, { actor: { id: me, type: 'user', name: me }, source: { address: '203.0.113.7' } }],
    ['details kept, a process.user.id detail of the caller kept', { ...base, details: { 'process.user.id': 42, x: 'y' } }, { details: { 'process.user.id': 42, x: 'y' } }],
  ])('%s', (_name, input, expected) => {
    const out = withOsIdentity(input);
    expect(out).toMatchObject(expected);
    if (input.actor !== undefined) expect(out.details).toEqual(input.details);
  });

  it('both given: the very same event comes back', () => {
    const e: AuditEvent = { ...base, actor: { id: 'a', type: 'user' }, source: { address: 'h' } };
    expect(withOsIdentity(e)).toBe(e);
  });

  it('reads the identity once', () => {
    expect(osIdentity()).toBe(osIdentity());
    expect(osIdentity().uid).toBe(uid);
  });
});

let p: TestPipeline | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await p?.dispose();
  p = undefined;
  await killAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('OTEL_AUDIT_DEFAULT_ACTOR', () => {
  it('os-user: a typed event without an actor is recorded as the OS user on this host', async () => {
    p = await makePipeline({ defaultActor: 'os-user' });
    await p.audit.record({ action: 'EXECUTE', outcome: 'success' } as AuditEvent);
    await p.audit.record({ action: 'EXECUTE', outcome: 'success', actor: { id: 'ci-bot', type: 'service' } });
    await p.provider.shutdown();
    const [first, second] = recordsOfFile(p.collectorFile);
    expect(stringAttribute(first!, 'audit.actor.id')).toBe(me);
    expect(stringAttribute(first!, 'user.name')).toBe(me);
    expect(stringAttribute(first!, 'audit.source.id')).toBe(hostname());
    expect(stringAttribute(second!, 'audit.actor.id')).toBe('ci-bot');
  });

  // Fixed bug, kept as a regression test: the OS identity was merged in before validation, so these crashed with
  // a TypeError or were accepted (a string's characters became attributes "0", "1", …).
  it.each([
    ['undefined', undefined, /invalid audit event/],
    ['a string', 'LOGIN', /invalid audit event/],
    ['details as a string', { action: 'EXECUTE', outcome: 'success', details: 'abc' }, /details/],
    ['details as an array', { action: 'EXECUTE', outcome: 'success', details: ['x', 'y'] }, /details/],
    ['details null', { action: 'EXECUTE', outcome: 'success', details: null }, /details/],
  ])('os-user: %s is refused with AuditValidationError, as without os-user', async (_what, event, message) => {
    p = await makePipeline({ defaultActor: 'os-user' });
    let caught: unknown;
    try {
      void p.audit.record(event as unknown as AuditEvent);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AuditValidationError);
    expect((caught as Error).message).toMatch(message);
    expect(p.processor.stats().emitted).toBe(0);
  });

  it('none (the default): a typed event without an actor is refused', async () => {
    p = await makePipeline();
    expect(() => p!.audit.record({ action: 'EXECUTE', outcome: 'success' } as AuditEvent)).toThrow(AuditValidationError);
  });

  it.each([
    [{ OTEL_AUDIT_DEFAULT_ACTOR: 'os-user' }, 'os-user'],
    [{}, 'none'],
  ])('%j → %s', (env, expected) => {
    expect(resolveOptions({}, env).defaultActor).toBe(expected);
  });

  it('a bad value names the variable, the value and what is allowed', () => {
    expect(() => resolveOptions({}, { OTEL_AUDIT_DEFAULT_ACTOR: 'root' })).toThrow('OTEL_AUDIT_DEFAULT_ACTOR="root" is invalid: allowed values are os-user, none');
  });
});

describe('examples/audited-cli: one record per invocation', () => {
  const root = join(import.meta.dirname, '../..');
  it.each([
    ['a command that succeeds', ['-e', 'process.exit(0)'], 0, 'success'],
    ['a command that fails', ['-e', 'process.exit(3)'], 3, 'failure'],
  ])('%s: the exit code is passed on; the record names the OS user, the command, the outcome', async (_name, args, code, outcome) => {
    const { auditDir, collectorFile, collector } = await collectorDir(cleanups);
    const child = runNode([join(root, 'dist/examples/audited-cli.js'), '--', process.execPath, ...args], {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
    });
    expect((await child.exited).code).toBe(code);
    const [r] = recordsOfFile(collectorFile);
    expect(r!.eventName).toBe('command.execute');
    expect(stringAttribute(r!, 'audit.actor.id')).toBe(me);
    expect(stringAttribute(r!, 'audit.actor.type')).toBe('user');
    expect(stringAttribute(r!, 'audit.outcome')).toBe(outcome);
    expect(stringAttribute(r!, 'audit.target.id')).toBe(process.execPath);
    expect((await verifyFiles([collectorFile, auditDir])).ok).toBe(true);
  });
});

// Found in review: with the os-user default, an event whose getter throws surfaced the caller's own error, and an
// event of a class whose fields are getters lost them (a spread keeps own properties only); without the default
// both are read as validation reads them.
describe('withOsIdentity and events that are not plain objects', () => {
  it('a getter that throws: AuditValidationError, as without the default', async () => {
    const { prepareEvent } = await import('../../src/map/map-event.js');
    const hostile = {
      action: 'LOGIN',
      outcome: 'success',
      get target(): never {
        throw new Error('getter broke');
      },
    };
    expect(() => prepareEvent(withOsIdentity(hostile as unknown as AuditEventDraft))).toThrow(AuditValidationError);
  });

  it('an event of a class whose fields are getters keeps them', async () => {
    const { prepareEvent } = await import('../../src/map/map-event.js');
    class LoginEvent {
      get action(): string {
        return 'LOGIN';
      }
      get outcome(): 'success' {
        return 'success';
      }
      get target(): { id: string; type: string } {
        return { id: 'acct-1', type: 'account' };
      }
    }
    const m = prepareEvent(withOsIdentity(new LoginEvent() as unknown as AuditEventDraft));
    expect(m.attributes['audit.action']).toBe('LOGIN');
    expect(m.attributes['audit.target.id']).toBe('acct-1');
    expect(m.attributes['audit.actor.id']).toBe(osIdentity().actor.id);
  });
});
