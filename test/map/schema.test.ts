import { describe, expect, it } from 'vitest';
import { AuditValidationError, type ValidationIssue } from '../../src/core/errors.js';
import { ActorSchema, ANONYMOUS_ACTOR, AuditEventSchema, MAX_DETAIL_TEXT, type AuditEvent } from '../../src/map/schema.js';
import { makePipeline } from '../helpers/pipeline.js';
import { prepareEvent, validateEvent } from '../../src/map/map-event.js';

const MINIMAL = { action: 'LOGIN', outcome: 'success', actor: { id: 'u-1', type: 'user' } } as const;

const FULL: AuditEvent = {
  id: 'rec-0001',
  name: 'user.login',
  action: 'LOGIN',
  outcome: 'failure',
  actor: { id: 'u-42', type: 'user', name: 'Alice Example', roles: ['admin', 'auditor'] },
  target: { id: 'acct-7', type: 'account', name: 'Main account' },
  source: { address: '203.0.113.9', port: 51234 },
  reason: 'bad password\nsecond attempt',
  message: 'Login failed for alice\n(2nd attempt) ✓ 😀',
  session: { id: 'sess-1' },
  request: { method: 'POST', path: '/api/login' },
  error: { type: 'InvalidCredentials' },
  details: {
    attempts: 2,
    ratio: 0.5,
    locked: false,
    note: '',
    tags: ['a', 'b'],
    codes: [1, 2, 3],
    flags: [true, false],
    empty: [],
    'http.user_agent': 'curl/8',
  },
  time: new Date('2024-01-02T03:04:05.678Z'),
};

/** Runs validateEvent, which must throw AuditValidationError, and returns its issues. */
function issuesOf(event: unknown): readonly ValidationIssue[] {
  try {
    validateEvent(event);
  } catch (err) {
    if (err instanceof AuditValidationError) return err.issues;
    throw err;
  }
  throw new Error('expected AuditValidationError');
}

const pathsOf = (event: unknown): string[] => issuesOf(event).map((i) => i.path);

const withDetails = (details: unknown): unknown => ({ ...MINIMAL, details });
const manyDetails = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));

describe('validateEvent accepts valid events', () => {
  const valid: [label: string, event: unknown][] = [
    ['the full event', FULL],
    ['a minimal user event', MINIMAL],
    ['a minimal service event', { action: 'CREATE', outcome: 'unknown', actor: { id: 'svc', type: 'service' } }],
    ['a minimal system event', { action: 'EXECUTE', outcome: 'failure', actor: { id: 'cron', type: 'system' } }],
    ['the anonymous actor', { action: 'READ', outcome: 'success', actor: ANONYMOUS_ACTOR }],
    ['an empty target', { ...MINIMAL, target: {} }],
    ['an empty request', { ...MINIMAL, request: {} }],
    ['empty details', withDetails({})],
    ['exactly 64 details', withDetails(manyDetails(64))],
    ['a detail string of 8192 characters', withDetails({ s: 'x'.repeat(8192) })],
    ['a detail array of 128 items', withDetails({ a: Array.from({ length: 128 }, () => 'v') })],
    ['negative and fractional numbers', withDetails({ n: -1.25, z: 0, big: Number.MAX_SAFE_INTEGER })],
    ['a detail string with control characters', withDetails({ s: 'line1\nline2\u0000' })],
    ['a reason with a newline', { ...MINIMAL, reason: 'a\nb' }],
    ['an empty message', { ...MINIMAL, message: '' }],
    ['well-formed astral characters', { ...MINIMAL, actor: { id: 'u-😀', type: 'user' } }],
    ['port 0', { ...MINIMAL, source: { address: 'h', port: 0 } }],
    ['port 65535', { ...MINIMAL, source: { address: '::1', port: 65535 } }],
    ['a name with all allowed characters', { ...MINIMAL, name: 'a.B_c:d/e-0' }],
    ['time as a number', { ...MINIMAL, time: 1700000000000 }],
    ['time 0', { ...MINIMAL, time: 0 }],
    ['an action of 128 characters', { ...MINIMAL, action: 'A'.repeat(128) }],
  ];
  it.each(valid)('%s', (_label, event) => {
    expect(validateEvent(event)).toEqual(event);
    expect(AuditEventSchema.safeParse(event).success).toBe(true);
  });

  it('returns the full event unchanged', () => {
    const v = validateEvent(FULL);
    expect(v).toEqual(FULL);
    expect(v.time).toEqual(FULL.time);
  });
});

describe('validateEvent rejects invalid events with the right paths', () => {
  const cases: [label: string, event: unknown, paths: string[]][] = [
    ['missing action', { outcome: 'success', actor: MINIMAL.actor }, ['action']],
    ['missing outcome', { action: 'LOGIN', actor: MINIMAL.actor }, ['outcome']],
    ['missing actor', { action: 'LOGIN', outcome: 'success' }, ['actor']],
    ['missing actor.id', { ...MINIMAL, actor: { type: 'user' } }, ['actor.id']],
    ['missing actor.type', { ...MINIMAL, actor: { id: 'u' } }, ['actor.type']],
    ['actor.type robot', { ...MINIMAL, actor: { id: 'u', type: 'robot' } }, ['actor.type']],
    ['actor.type User (case)', { ...MINIMAL, actor: { id: 'u', type: 'User' } }, ['actor.type']],
    ['outcome ok', { ...MINIMAL, outcome: 'ok' }, ['outcome']],
    ['action of the wrong type', { ...MINIMAL, action: 42 }, ['action']],
    // A typo: the unknown key is reported at the event level (zod's path), and `outcome` is then missing.
    ['typo outcom', { action: 'LOGIN', outcom: 'success', actor: MINIMAL.actor }, ['outcome', '']],
    ['unknown top-level field', { ...MINIMAL, severity: 'high' }, ['']],
    ['unknown actor field', { ...MINIMAL, actor: { ...MINIMAL.actor, email: 'a@b' } }, ['actor']],
    ['unknown source field', { ...MINIMAL, source: { address: 'h', host: 'x' } }, ['source']],
    ['empty action', { ...MINIMAL, action: '' }, ['action']],
    ['empty actor.id', { ...MINIMAL, actor: { id: '', type: 'user' } }, ['actor.id']],
    ['empty actor.name', { ...MINIMAL, actor: { ...MINIMAL.actor, name: '' } }, ['actor.name']],
    ['empty role', { ...MINIMAL, actor: { ...MINIMAL.actor, roles: ['ok', ''] } }, ['actor.roles.1']],
    ['empty target.id', { ...MINIMAL, target: { id: '' } }, ['target.id']],
    ['empty source.address', { ...MINIMAL, source: { address: '' } }, ['source.address']],
    ['empty reason', { ...MINIMAL, reason: '' }, ['reason']],
    ['empty session.id', { ...MINIMAL, session: { id: '' } }, ['session.id']],
    ['empty request.method', { ...MINIMAL, request: { method: '' } }, ['request.method']],
    ['empty error.type', { ...MINIMAL, error: { type: '' } }, ['error.type']],
    ['empty id', { ...MINIMAL, id: '' }, ['id']],
    ['empty name', { ...MINIMAL, name: '' }, ['name']],
    ['newline in action', { ...MINIMAL, action: 'LOG\nIN' }, ['action']],
    ['NUL in action', { ...MINIMAL, action: 'LOGIN\u0000' }, ['action']],
    ['tab in action', { ...MINIMAL, action: '\tLOGIN' }, ['action']],
    ['DEL in action', { ...MINIMAL, action: 'LOGIN\u007f' }, ['action']],
    ['escape in actor.id', { ...MINIMAL, actor: { id: 'u\u001b[31m', type: 'user' } }, ['actor.id']],
    ['lone high surrogate in actor.id', { ...MINIMAL, actor: { id: 'u\uD800', type: 'user' } }, ['actor.id']],
    ['lone low surrogate in actor.id', { ...MINIMAL, actor: { id: '\uDC00u', type: 'user' } }, ['actor.id']],
    ['lone surrogate in message', { ...MINIMAL, message: 'hello \uD83D' }, ['message']],
    ['lone surrogate in reason', { ...MINIMAL, reason: '\uDFFF' }, ['reason']],
    ['lone surrogate in a detail', withDetails({ s: 'x\uD800' }), ['details.s']],
    ['lone surrogate in a detail array', withDetails({ a: ['ok', '\uDBFF'] }), ['details.a.1']],
    ['NaN in details', withDetails({ n: Number.NaN }), ['details.n']],
    ['Infinity in details', withDetails({ n: Number.POSITIVE_INFINITY }), ['details.n']],
    ['-Infinity in details', withDetails({ n: Number.NEGATIVE_INFINITY }), ['details.n']],
    ['NaN in a detail array', withDetails({ a: [1, Number.NaN] }), ['details.a']],
    ['details key audit.action', withDetails({ 'audit.action': 'x' }), ['details.audit.action']],
    ['details key audit.anything', withDetails({ 'audit.foo.bar': 1 }), ['details.audit.foo.bar']],
    ['details key constructor', withDetails({ constructor: 1 }), ['details.constructor']],
    ['details key prototype', withDetails({ prototype: 'x' }), ['details.prototype']],
    ['empty details key', withDetails({ '': 1 }), ['details.']],
    ['details key with a newline', withDetails({ 'a\nb': 1 }), ['details.a\nb']],
    ['details key of 129 characters', withDetails({ ['k'.repeat(129)]: 1 }), [`details.${'k'.repeat(129)}`]],
    ['65 details', withDetails(manyDetails(65)), ['details']],
    ['a detail string of 8193 characters', withDetails({ s: 'x'.repeat(8193) }), ['details.s']],
    ['a detail array of 129 items', withDetails({ a: Array.from({ length: 129 }, () => 1) }), ['details.a']],
    ['a mixed-type detail array', withDetails({ a: [1, 'two'] }), ['details.a']],
    ['a mixed boolean/string array', withDetails({ a: [true, 'x'] }), ['details.a']],
    ['a nested object detail', withDetails({ o: { a: 1 } }), ['details.o']],
    ['a nested array detail', withDetails({ a: [[1]] }), ['details.a']],
    ['a null detail', withDetails({ n: null }), ['details.n']],
    ['a bigint detail', withDetails({ b: 10n }), ['details.b']],
    ['details not an object', withDetails(['a']), ['details']],
    ['port 70000', { ...MINIMAL, source: { address: 'h', port: 70000 } }, ['source.port']],
    ['port -1', { ...MINIMAL, source: { address: 'h', port: -1 } }, ['source.port']],
    ['port 80.5', { ...MINIMAL, source: { address: 'h', port: 80.5 } }, ['source.port']],
    ['port as a string', { ...MINIMAL, source: { address: 'h', port: '80' } }, ['source.port']],
    ['name with spaces', { ...MINIMAL, name: 'user login' }, ['name']],
    ['name of 129 characters', { ...MINIMAL, name: 'n'.repeat(129) }, ['name']],
    ['name with a newline', { ...MINIMAL, name: 'user.login\n' }, ['name']],
    ['action of 129 characters', { ...MINIMAL, action: 'A'.repeat(129) }, ['action']],
    ['65 roles', { ...MINIMAL, actor: { ...MINIMAL.actor, roles: Array.from({ length: 65 }, (_, i) => `r${i}`) } }, ['actor.roles']],
    ['negative time', { ...MINIMAL, time: -1 }, ['time']],
    ['NaN time', { ...MINIMAL, time: Number.NaN }, ['time']],
    ['invalid Date', { ...MINIMAL, time: new Date('not a date') }, ['time']],
    ['time as a string', { ...MINIMAL, time: '2024-01-01' }, ['time']],
    ['null event', null, ['']],
    ['string event', 'LOGIN', ['']],
    ['array event', [MINIMAL], ['']],
  ];
  it.each(cases)('%s', (_label, event, paths) => {
    expect(pathsOf(event)).toEqual(paths);
  });

  it('names the unknown field in the message of the typo issue', () => {
    const issues = issuesOf({ action: 'LOGIN', outcom: 'success', actor: MINIMAL.actor });
    expect(issues.find((i) => i.path === '')?.message).toContain('"outcom"');
  });

  it('uses the schema messages', () => {
    const msg = (event: unknown): string | undefined => issuesOf(event)[0]?.message;
    expect(msg({ ...MINIMAL, action: '' })).toBe('must not be empty');
    expect(msg({ ...MINIMAL, action: 'A\nB' })).toBe('must not contain control characters');
    // Found in review: C1 controls (NEL) and identifiers that are only white space or invisible passed.
    for (const action of ['A\u0085B', 'A\u009bB']) expect(msg({ ...MINIMAL, action })).toBe('must not contain control characters');
    for (const id of [' ', '   ', '\u00a0', '\u200b', '\u3000', '\ufeff \u200b', '\u200e\u200f', '\u00ad', '\u3164', '\u2800', '\u180e', '\ufe0f']) {
      expect(msg({ ...MINIMAL, actor: { id, type: 'user' } })).toBe('must not be blank (only white space)');
    }
    // Bidirectional controls: `alice\u202e` + reversed text displays as another identifier (found in re-review).
    for (const id of ['admin\u202enimda', '\u2066bob\u2069', 'x\u202ay']) expect(msg({ ...MINIMAL, actor: { id, type: 'user' } })).toBe('must not contain control characters');
    expect(ActorSchema.safeParse({ id: ' alice ', type: 'user' }).success).toBe(true); // white space around a name is the caller's
    expect(msg({ ...MINIMAL, actor: { id: '\uD800', type: 'user' } })).toBe('must not contain a lone surrogate');
    expect(msg({ ...MINIMAL, message: '\uD800' })).toBe('must not contain a lone surrogate');
    expect(msg(withDetails(manyDetails(65)))).toBe('at most 64 details');
    expect(msg(withDetails({ s: 'x'.repeat(8193) }))).toBe('must be at most 8192 characters');
  });

  it('a details key __proto__ that is not an own property is not a detail', () => {
    // An object literal's __proto__ sets the prototype; it is not a key, so nothing is lost.
    expect(validateEvent(withDetails({ __proto__: { x: 1 }, ok: 1 })).details).toEqual({ ok: 1 });
  });

  // zod's record parser skips an own `__proto__` key before key checks run; validateEvent must still reject it
  // rather than drop the detail silently (ARCHITECTURE.md §8).
  it('rejects an own __proto__ details key (built with JSON.parse)', () => {
    const details = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as unknown;
    expect(Object.keys(details as object)).toContain('__proto__');
    expect(pathsOf(withDetails(details))).toEqual(['details.__proto__']);
  });

  it('never pollutes Object.prototype through a __proto__ details key', () => {
    const details = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
    try {
      validateEvent(withDetails(details));
    } catch {
      // either outcome is fine here; only the prototype matters
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects an own __proto__ key at the top level', () => {
    const event = JSON.parse(JSON.stringify(MINIMAL).replace(/^\{/, '{"__proto__":{"x":1},')) as unknown;
    expect(Object.keys(event as object)).toContain('__proto__');
    expect(pathsOf(event)).toEqual(['']);
  });
});

// Found in review: a missing actor said "Invalid input: expected object, received undefined".
it('a missing actor says how to give one; an actor of the wrong type says what it is', () => {
  const messageOf = (event: unknown): string | undefined => {
    try {
      validateEvent(event);
    } catch (e) {
      return (e as AuditValidationError).issues.find((i) => i.path === 'actor')?.message;
    }
    return undefined;
  };
  expect(messageOf({ action: 'LOGIN', outcome: 'success' })).toBe(
    "is required: give actor: { id, type }, or let the processor's defaultActor 'os-user' (OTEL_AUDIT_DEFAULT_ACTOR=os-user) or withOsIdentity(event) make it the OS user running the process",
  );
  expect(messageOf({ action: 'LOGIN', outcome: 'success', actor: 'alice' })).toMatch(/expected object/);
});

// Found in review: these read "items must all be of one type", with an empty list for 129 numbers.
it.each<[string, unknown[], string]>([
  ['129 numbers', Array(129).fill(1), 'at most 128 items'],
  ['129 strings', Array(129).fill('x'), 'at most 128 items'],
  ['[NaN]', [NaN], '0: must be a finite number'],
  ['[1, NaN]', [1, NaN], '1: must be a finite number'],
  ['["a", 1]', ['a', 1], 'items must all be of one type: string, number, boolean'],
])('a detail array of %s says what is wrong with it', (_label, value, message) => {
  let issues: readonly ValidationIssue[] = [];
  try {
    validateEvent({ ...MINIMAL, details: { list: value } });
  } catch (e) {
    issues = (e as AuditValidationError).issues;
  }
  expect(issues).toEqual([{ path: 'details.list', message }]);
});

describe('an event with several problems lists every one of them', () => {
  it('lists each problem with its path', () => {
    const event = {
      outcom: 'success',
      action: 'LO\nGIN',
      actor: { id: '', type: 'robot' },
      source: { address: 'h', port: 70000 },
      message: 'x\uD800',
      name: 'has space',
      details: { 'audit.x': 1, n: Number.NaN, s: 'y'.repeat(8193), mixed: [1, 'a'] },
    };
    const issues = issuesOf(event);
    const paths = issues.map((i) => i.path);
    const expected = [
      'action',
      'outcome',
      'actor.id',
      'actor.type',
      'source.port',
      'message',
      'name',
      'details.audit.x',
      'details.n',
      'details.s',
      'details.mixed',
      '',
    ];
    expect(issues).toHaveLength(expected.length);
    expect([...paths].sort()).toEqual([...expected].sort());
    for (const i of issues) expect(i.message.length).toBeGreaterThan(0);
  });

  it('puts every problem in the error message', () => {
    let err: unknown;
    try {
      validateEvent({ actor: { id: 'u', type: 'robot' }, details: { n: Number.POSITIVE_INFINITY } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuditValidationError);
    const e = err as AuditValidationError;
    expect(e.name).toBe('AuditValidationError');
    expect(e.issues.map((i) => i.path)).toEqual(['action', 'outcome', 'actor.type', 'details.n']);
    expect(e.message).toMatch(/^invalid audit event: /);
    for (const p of ['action: ', 'outcome: ', 'actor.type: ', 'details.n: ']) expect(e.message).toContain(p);
  });

  it('writes an event-level issue as (event)', () => {
    expect(() => validateEvent(null)).toThrow(/^invalid audit event: \(event\): /);
  });
});

describe('prepareEvent', () => {
  it('throws AuditValidationError synchronously', () => {
    let returned: unknown = 'not called';
    expect(() => {
      returned = prepareEvent({ action: '', outcome: 'success', actor: MINIMAL.actor });
    }).toThrow(AuditValidationError);
    expect(returned).toBe('not called');
  });

  it('throws the same issues as validateEvent', () => {
    const bad = { ...MINIMAL, actor: { id: 'u', type: 'robot' }, details: { 'audit.x': 1 } } as unknown as AuditEvent;
    let err: unknown;
    try {
      prepareEvent(bad);
    } catch (e) {
      err = e;
    }
    expect((err as AuditValidationError).issues).toEqual(issuesOf(bad));
  });

  it('returns a mapped record for a valid event', () => {
    const r = prepareEvent(MINIMAL);
    expect(r.eventName).toBe('audit.login');
    expect(r.attributes['audit.action']).toBe('LOGIN');
  });
});

// Found in review: a getter or Proxy trap that throws came out of record() as the caller's own error.
describe('an event that cannot be read', () => {
  const boom = new Error('boom');
  const throwing = (): never => {
    throw boom;
  };
  it.each<[string, () => unknown]>([
    ['a getter that throws', () => Object.defineProperty({ action: 'READ', outcome: 'success' }, 'actor', { get: throwing, enumerable: true })],
    ['a getter that throws, inside the actor', () => ({ action: 'READ', outcome: 'success', actor: Object.defineProperty({ type: 'user' }, 'id', { get: throwing, enumerable: true }) })],
    ['a Proxy whose ownKeys throws', () => new Proxy({ action: 'READ', outcome: 'success', actor: { id: 'a', type: 'user' } }, { ownKeys: throwing })],
    ['details behind a Proxy whose ownKeys throws', () => ({ action: 'READ', outcome: 'success', actor: { id: 'a', type: 'user' }, details: new Proxy({}, { ownKeys: throwing }) })],
  ])('%s: AuditValidationError saying so, the thrown error as its cause', (_name, make) => {
    let err: unknown;
    try {
      validateEvent(make());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuditValidationError);
    expect((err as AuditValidationError).message).toBe('invalid audit event: (event): the event could not be read: reading it threw Error: boom');
    expect((err as AuditValidationError).cause).toBe(boom);
  });
});

// Found in review: every limit respected, an event could still exceed the 16 MiB a record may have; it passed
// validation, then was sealed as audit.record.unsealable and its receipt rejected later.
describe('the text of all details together', () => {
  const base = { action: 'EXPORT', outcome: 'success' as const, actor: { id: 'alice', type: 'user' as const } };
  it(`over ${MAX_DETAIL_TEXT} characters: refused at once`, () => {
    const details: Record<string, string[]> = {};
    for (let i = 0; i < 20; i++) details[`d${i}`] = Array.from({ length: 128 }, () => 'x'.repeat(8192));
    expect(issuesOf({ ...base, details })).toEqual([{ path: 'details', message: `at most ${MAX_DETAIL_TEXT} characters of text in all details together` }]);
    expect(issuesOf({ ...base, details: { a: Array.from({ length: 128 }, () => 'x'.repeat(8192)), b: 'y' } })).toHaveLength(1);
  });

  it('at the bound, in the text that encodes largest (a control character: \\u0001, 6 bytes), the event seals and is delivered', async () => {
    const p = await makePipeline();
    try {
      const details = { blob: Array.from({ length: 128 }, () => '\u0001'.repeat(8192)) };
      expect(() => validateEvent({ ...base, details })).not.toThrow();
      const receipt = await p.audit.record({ ...base, details });
      expect(receipt.durability).toMatch(/^(journal|collector)$/);
      await p.processor.forceFlush();
      expect(p.collector.stats().records).toBeGreaterThanOrEqual(1);
    } finally {
      await p.dispose();
    }
  });
});
