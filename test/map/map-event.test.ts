import { describe, expect, it } from 'vitest';
import type { AnyValueMap } from '../../src/otel/types.js';
import { AuditValidationError, type ValidationIssue } from '../../src/core/errors.js';
import { MAX_EVENT_TIME_MS, type AuditEvent } from '../../src/map/schema.js';
import * as A from '../../src/core/attributes.js';
import { epochMillisToHrTime, mapEvent, prepareEvent, sourceType, validateEvent, type MappedRecord } from '../../src/map/map-event.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const map = (e: AuditEvent): MappedRecord => mapEvent(validateEvent(e));

const USER = { id: 'u-1', type: 'user' } as const;
const BASE = { id: 'rec-1', action: 'LOGIN', outcome: 'success', actor: USER } as const;

/** The attributes every event with BASE's id/action/outcome and `actor` gets. */
function core(actor: { id: string; type: string }, extra: AnyValueMap = {}): AnyValueMap {
  return {
    'audit.record.id': 'rec-1',
    'audit.actor.id': actor.id,
    'audit.actor.type': actor.type,
    'audit.action': 'LOGIN',
    'audit.outcome': 'success',
    'audit.schema.version': '1',
    ...extra,
  };
}

describe('mapEvent: exact attributes', () => {
  const cases: [label: string, event: AuditEvent, attributes: AnyValueMap][] = [
    ['user actor → user.id', BASE, core(USER, { 'user.id': 'u-1' })],
    [
      'service actor → no user.id',
      { ...BASE, actor: { id: 'billing', type: 'service' } },
      core({ id: 'billing', type: 'service' }),
    ],
    ['system actor → no user.id', { ...BASE, actor: { id: 'cron', type: 'system' } }, core({ id: 'cron', type: 'system' })],
    [
      'failure and unknown outcomes',
      { ...BASE, outcome: 'failure', reason: 'bad password' },
      { ...core(USER, { 'user.id': 'u-1', 'audit.reason': 'bad password' }), 'audit.outcome': 'failure' },
    ],
    [
      'user name and roles → user.name, user.roles',
      { ...BASE, actor: { ...USER, name: 'Alice', roles: ['admin', 'auditor'] } },
      core(USER, { 'user.id': 'u-1', 'user.name': 'Alice', 'user.roles': ['admin', 'auditor'] }),
    ],
    ['empty roles → empty user.roles', { ...BASE, actor: { ...USER, roles: [] } }, core(USER, { 'user.id': 'u-1', 'user.roles': [] })],
    [
      'target → audit.target.id, audit.target.type',
      { ...BASE, target: { id: 'acct-7', type: 'account' } },
      core(USER, { 'user.id': 'u-1', 'audit.target.id': 'acct-7', 'audit.target.type': 'account' }),
    ],
    ['target type only', { ...BASE, target: { type: 'account' } }, core(USER, { 'user.id': 'u-1', 'audit.target.type': 'account' })],
    // The extensions of README.md's attribute table: a field with no semantic convention keeps its documented name.
    [
      'target name → audit.target.name',
      { ...BASE, target: { id: 'doc-1', name: 'Quarterly report' } },
      core(USER, { 'user.id': 'u-1', 'audit.target.id': 'doc-1', 'audit.target.name': 'Quarterly report' }),
    ],
    [
      'name and roles of a non-user actor → audit.actor.name, audit.actor.roles',
      { ...BASE, actor: { id: 'billing', type: 'service', name: 'Billing', roles: ['writer', 'reader'] } },
      core({ id: 'billing', type: 'service' }, { 'audit.actor.name': 'Billing', 'audit.actor.roles': ['writer', 'reader'] }),
    ],
    [
      'source ipv4 with port',
      { ...BASE, source: { address: '203.0.113.9', port: 51234 } },
      core(USER, {
        'user.id': 'u-1',
        'audit.source.id': '203.0.113.9',
        'audit.source.type': 'ipv4',
        'client.address': '203.0.113.9',
        'client.port': 51234,
      }),
    ],
    [
      'source ipv6 without port',
      { ...BASE, source: { address: '2001:db8::1' } },
      core(USER, {
        'user.id': 'u-1',
        'audit.source.id': '2001:db8::1',
        'audit.source.type': 'ipv6',
        'client.address': '2001:db8::1',
      }),
    ],
    [
      'source hostname, port 0',
      { ...BASE, source: { address: 'gw.example.com', port: 0 } },
      core(USER, {
        'user.id': 'u-1',
        'audit.source.id': 'gw.example.com',
        'audit.source.type': 'hostname',
        'client.address': 'gw.example.com',
        'client.port': 0,
      }),
    ],
    [
      'session, request, error → semconv',
      { ...BASE, session: { id: 's-1' }, request: { method: 'POST', path: '/api/login' }, error: { type: 'Timeout' } },
      core(USER, {
        'user.id': 'u-1',
        'session.id': 's-1',
        'http.request.method': 'POST',
        'url.path': '/api/login',
        'error.type': 'Timeout',
      }),
    ],
    ['request path only', { ...BASE, request: { path: '/x' } }, core(USER, { 'user.id': 'u-1', 'url.path': '/x' })],
    [
      'details kept verbatim',
      {
        ...BASE,
        details: {
          amount: 12.5,
          count: 3,
          ok: true,
          note: '',
          multi: 'line1\nline2',
          tags: ['a', 'b'],
          nums: [1, 2.5],
          flags: [false],
          empty: [],
          'http.user_agent': 'curl/8',
        },
      },
      core(USER, {
        'user.id': 'u-1',
        amount: 12.5,
        count: 3,
        ok: true,
        note: '',
        multi: 'line1\nline2',
        tags: ['a', 'b'],
        nums: [1, 2.5],
        flags: [false],
        empty: [],
        'http.user_agent': 'curl/8',
      }),
    ],
    [
      'semconv names in details without the matching event field are kept',
      { ...BASE, actor: { id: 'svc', type: 'service' }, details: { 'user.id': 'on-behalf-of', 'session.id': 's-9' } },
      core({ id: 'svc', type: 'service' }, { 'user.id': 'on-behalf-of', 'session.id': 's-9' }),
    ],
    [
      'everything at once',
      {
        id: 'rec-1',
        name: 'user.login',
        action: 'LOGIN',
        outcome: 'success',
        actor: { id: 'u-1', type: 'user', name: 'Alice', roles: ['admin'] },
        target: { id: 't', type: 'tt' },
        source: { address: '::1', port: 443 },
        reason: 'r',
        message: 'm',
        session: { id: 's' },
        request: { method: 'GET', path: '/' },
        error: { type: 'E' },
        details: { k: 'v' },
        time: 5,
      },
      core(USER, {
        'audit.target.id': 't',
        'audit.target.type': 'tt',
        'audit.source.id': '::1',
        'audit.source.type': 'ipv6',
        'client.address': '::1',
        'client.port': 443,
        'audit.reason': 'r',
        'user.id': 'u-1',
        'user.name': 'Alice',
        'user.roles': ['admin'],
        'session.id': 's',
        'http.request.method': 'GET',
        'url.path': '/',
        'error.type': 'E',
        k: 'v',
      }),
    ],
  ];
  it.each(cases)('%s', (_label, event, attributes) => {
    const r = map(event);
    expect(r.attributes).toStrictEqual(attributes);
    expect(r.recordId).toBe('rec-1');
  });

  it('uses the exported attribute names', () => {
    const r = map({ ...BASE, source: { address: '10.0.0.1', port: 1 }, session: { id: 's' }, request: { method: 'GET', path: '/' }, error: { type: 'E' }, reason: 'r', target: { id: 't', type: 'x' }, actor: { ...USER, name: 'n', roles: ['r'] } });
    for (const name of [
      A.ATTR_RECORD_ID,
      A.ATTR_ACTOR_ID,
      A.ATTR_ACTOR_TYPE,
      A.ATTR_ACTION,
      A.ATTR_OUTCOME,
      A.ATTR_TARGET_ID,
      A.ATTR_TARGET_TYPE,
      A.ATTR_SOURCE_ID,
      A.ATTR_SOURCE_TYPE,
      A.ATTR_REASON,
      A.ATTR_SCHEMA_VERSION,
      A.ATTR_USER_ID,
      A.ATTR_USER_NAME,
      A.ATTR_USER_ROLES,
      A.ATTR_CLIENT_ADDRESS,
      A.ATTR_CLIENT_PORT,
      A.ATTR_SESSION_ID,
      A.ATTR_HTTP_REQUEST_METHOD,
      A.ATTR_URL_PATH,
      A.ATTR_ERROR_TYPE,
    ]) {
      expect(r.attributes).toHaveProperty([name]);
    }
    expect(r.attributes[A.ATTR_SCHEMA_VERSION]).toBe(A.AUDIT_SCHEMA_VERSION);
    expect(A.AUDIT_SCHEMA_VERSION).toBe('1');
  });

  it('never sets an attribute to undefined', () => {
    const r = map({ action: 'X', outcome: 'unknown', actor: { id: 'a', type: 'system' }, target: {}, request: {} });
    for (const v of Object.values(r.attributes)) expect(v).not.toBeUndefined();
    expect(Object.keys(r.attributes).sort()).toEqual(
      ['audit.record.id', 'audit.actor.id', 'audit.actor.type', 'audit.action', 'audit.outcome', 'audit.schema.version'].sort(),
    );
  });

  // Every field of the typed event lands in the record (ARCHITECTURE.md §8: never silent loss).
  it('keeps target.name somewhere in the record', () => {
    const r = map({ ...BASE, target: { id: 't', name: 'Quarterly report' } });
    expect(Object.values(r.attributes)).toContain('Quarterly report');
  });
});

describe('sourceType', () => {
  const cases: [address: string, type: 'ipv4' | 'ipv6' | 'hostname'][] = [
    ['127.0.0.1', 'ipv4'],
    ['203.0.113.9', 'ipv4'],
    ['0.0.0.0', 'ipv4'],
    ['::1', 'ipv6'],
    ['2001:db8::1', 'ipv6'],
    ['::ffff:192.0.2.1', 'ipv6'],
    ['fe80::1%eth0', 'ipv6'],
    ['localhost', 'hostname'],
    ['gw.example.com', 'hostname'],
    ['256.1.1.1', 'hostname'],
    ['internal_host.corp.', 'hostname'],
  ];
  it.each(cases)('%s → %s', (address, type) => {
    expect(sourceType(address)).toBe(type);
    expect(map({ ...BASE, source: { address } }).attributes['audit.source.type']).toBe(type);
  });

  // Fixed bug, kept as a regression test: these were shipped as audit.source.type=hostname and client.address.
  it.each(['1.2.3.4:80', '[::1]', '203.0.113.7, 10.0.0.1', 'host name', 'a..b', '-lead.example'])('source.address %j is refused', (address) => {
    expect(() => validateEvent({ ...BASE, source: { address } })).toThrow('source.address: must be one IPv4 or IPv6 address or host name (a port goes in source.port)');
  });
});

describe('mapEvent: record id, event name, body, time', () => {
  it('uses the given id as audit.record.id and recordId', () => {
    const r = map({ ...BASE, id: 'my-idempotency-key' });
    expect(r.recordId).toBe('my-idempotency-key');
    expect(r.attributes['audit.record.id']).toBe('my-idempotency-key');
  });

  it('generates a UUID v4 when id is absent, different on each call', () => {
    const { id: _id, ...noId } = BASE;
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = map(noId);
      expect(r.recordId).toMatch(UUID_V4);
      expect(r.attributes['audit.record.id']).toBe(r.recordId);
      ids.add(r.recordId);
    }
    expect(ids.size).toBe(20);
  });

  it('generates a new id for each mapping of the same validated event', () => {
    const v = validateEvent({ action: 'A', outcome: 'success', actor: USER });
    expect(mapEvent(v).recordId).not.toBe(mapEvent(v).recordId);
  });

  const names: [label: string, event: AuditEvent, eventName: string][] = [
    ['explicit name', { ...BASE, name: 'user.login' }, 'user.login'],
    ['explicit name kept as given', { ...BASE, name: 'Container/Create:v2' }, 'Container/Create:v2'],
    ['default from action', BASE, 'audit.login'],
    ['default lowercases the action', { ...BASE, action: 'USER_Create' }, 'audit.user_create'],
    ['default from an already lowercase action', { ...BASE, action: 'execute' }, 'audit.execute'],
  ];
  // Fixed bug, kept as a regression test: these were accepted, then shipped renamed (audit.caller.*) and marked
  // invalid.
  it.each([
    ['action CHECKPOINT', { ...BASE, action: 'CHECKPOINT' }, 'action', 'gives the event name audit.checkpoint, which only the processor writes: set name'],
    ['action STREAM.END', { ...BASE, action: 'STREAM.END' }, 'action', 'gives the event name audit.stream.end, which only the processor writes: set name'],
    ['name audit.stream.end', { ...BASE, name: 'audit.stream.end' }, 'name', 'gives the event name audit.stream.end, which only the processor writes: set another name'],
    ['action RECORD.UNSEALABLE', { ...BASE, action: 'RECORD.UNSEALABLE' }, 'action', 'gives the event name audit.record.unsealable, which only the processor writes: set name'],
  ] as const)('refuses an event whose event name would be refused or renamed: %s', (_label, event, path, message) => {
    let caught: unknown;
    try {
      validateEvent(event);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AuditValidationError);
    expect((caught as AuditValidationError).issues).toEqual([{ path, message }]);
  });

  // Fixed bug, kept as a regression test: zod's top-level message alone hid the reason ("Invalid key in record",
  // "Invalid input").
  it.each([
    ['a reserved detail key', { ...BASE, details: { 'audit.x': 1 } }, 'details.audit.x', 'the audit.* namespace is reserved'],
    ['a forbidden detail key', { ...BASE, details: { constructor: 1 } }, 'details.constructor', 'is a reserved JavaScript property name'],
    ['an object detail value', { ...BASE, details: { meta: { a: 1 } } }, 'details.meta', 'must be one of: string, number, boolean, array'],
    ['a detail string too long', { ...BASE, details: { s: 'x'.repeat(8193) } }, 'details.s', 'must be at most 8192 characters'],
    ['a detail array of mixed types', { ...BASE, details: { arr: ['a', 1] } }, 'details.arr', 'items must all be of one type: string, number, boolean'],
    ['a time given as a string', { ...BASE, time: '2020-01-01' }, 'time', 'must be one of: date, number'],
    // zod 4 refuses these as a type error before any refine ran: the message said "must be one of: date, number".
    ['a time that is an Invalid Date', { ...BASE, time: new Date('x') }, 'time', 'must be a valid date'],
    ['a time that is NaN', { ...BASE, time: Number.NaN }, 'time', 'must be a finite number of milliseconds'],
    ['a time that is Infinity', { ...BASE, time: Number.POSITIVE_INFINITY }, 'time', 'must be a finite number of milliseconds'],
    ['a detail that is NaN', { ...BASE, details: { n: Number.NaN } }, 'details.n', 'must be a finite number'],
  ] as const)('a validation message says why: %s', (_label, event, path, message) => {
    let caught: unknown;
    try {
      validateEvent(event as unknown as AuditEvent);
    } catch (e) {
      caught = e;
    }
    expect((caught as AuditValidationError).issues).toEqual([{ path, message }]);
  });

  it('an action whose derived name would be reserved is fine when the event has its own name', () => {
    expect(map({ ...BASE, action: 'CHECKPOINT', name: 'backup.checkpoint' }).eventName).toBe('backup.checkpoint');
  });

  it.each(names)('eventName: %s', (_label, event, eventName) => {
    expect(map(event).eventName).toBe(eventName);
  });

  it('ships message as the body, verbatim', () => {
    expect(map({ ...BASE, message: 'User alice logged in\nfrom 203.0.113.9 ✓' }).body).toBe('User alice logged in\nfrom 203.0.113.9 ✓');
    expect(map({ ...BASE, message: '' }).body).toBe('');
  });

  it('has no body without a message', () => {
    expect(map(BASE).body).toBeUndefined();
  });

  it('passes a Date through as the timestamp; epoch milliseconds become an HrTime', () => {
    const d = new Date('2024-05-06T07:08:09.010Z');
    expect(map({ ...BASE, time: d }).timestamp).toEqual(d);
    expect(map({ ...BASE, time: 1700000000123 }).timestamp).toEqual([1700000000, 123_000_000]);
    expect(map(BASE).timestamp).toBeUndefined();
  });

  it.each([
    [0, [0, 0]],
    [1, [0, 1_000_000]],
    [999.9999995, [1, 0]], // the nanoseconds round up to a whole second: carried
    [1577836800000.5, [1577836800, 500_000]],
    [MAX_EVENT_TIME_MS, [Math.trunc(MAX_EVENT_TIME_MS / 1000), (MAX_EVENT_TIME_MS % 1000) * 1e6]],
  ] as const)('epochMillisToHrTime(%s) = %j', (ms, hr) => {
    expect(epochMillisToHrTime(ms)).toEqual(hr);
  });

  it('prepareEvent equals mapEvent(validateEvent())', () => {
    const e: AuditEvent = { ...BASE, message: 'm', details: { a: 1 }, source: { address: 'h' } };
    expect(prepareEvent(e)).toStrictEqual(map(e));
  });
});

describe('mapEvent: details colliding with mapped attributes', () => {
  function collisionIssues(event: AuditEvent): readonly ValidationIssue[] {
    try {
      map(event);
    } catch (err) {
      if (err instanceof AuditValidationError) return err.issues;
      throw err;
    }
    throw new Error('expected AuditValidationError');
  }

  const cases: [label: string, event: AuditEvent, paths: string[]][] = [
    ['session.id with session set', { ...BASE, session: { id: 's' }, details: { 'session.id': 'other' } }, ['details.session.id']],
    ['user.id with a user actor', { ...BASE, details: { 'user.id': 'x' } }, ['details.user.id']],
    ['user.name with actor.name', { ...BASE, actor: { ...USER, name: 'n' }, details: { 'user.name': 'x' } }, ['details.user.name']],
    ['user.roles with roles', { ...BASE, actor: { ...USER, roles: ['a'] }, details: { 'user.roles': ['b'] } }, ['details.user.roles']],
    ['client.address with source', { ...BASE, source: { address: 'h' }, details: { 'client.address': 'x' } }, ['details.client.address']],
    ['client.port with source.port', { ...BASE, source: { address: 'h', port: 1 }, details: { 'client.port': 2 } }, ['details.client.port']],
    ['http.request.method with request.method', { ...BASE, request: { method: 'GET' }, details: { 'http.request.method': 'PUT' } }, ['details.http.request.method']],
    ['url.path with request.path', { ...BASE, request: { path: '/' }, details: { 'url.path': '/x' } }, ['details.url.path']],
    ['error.type with error', { ...BASE, error: { type: 'E' }, details: { 'error.type': 'F' } }, ['details.error.type']],
    [
      'several collisions are all listed',
      { ...BASE, session: { id: 's' }, error: { type: 'E' }, details: { 'session.id': 'a', fine: 1, 'error.type': 'b', 'user.id': 'c' } },
      ['details.session.id', 'details.error.type', 'details.user.id'],
    ],
  ];
  it.each(cases)('%s', (_label, event, paths) => {
    const issues = collisionIssues(event);
    expect(issues.map((i) => i.path)).toEqual(paths);
    for (const i of issues) expect(i.message).toMatch(/collides/);
  });

  it('names details.session.id in the error message', () => {
    expect(() => map({ ...BASE, session: { id: 's' }, details: { 'session.id': 'other' } })).toThrow(
      /details\.session\.id/,
    );
  });

  // Found by review: README promises "listing every problem", but a collision was said only once the schema passed.
  it('a collision is listed with the other problems of an event the schema refuses', () => {
    let err: unknown;
    try {
      prepareEvent({ ...BASE, outcome: 'maybe' as never, details: { 'user.id': 'x', fine: 1 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuditValidationError);
    expect((err as AuditValidationError).issues.map((i) => i.path)).toEqual(['outcome', 'details.user.id']);
    // An event the mapping cannot even read (no actor) gets the schema's issues alone.
    expect(() => validateEvent({ action: 'X', outcome: 'success', details: { 'user.id': 'x' } })).toThrow(/actor/);
  });

  it('prepareEvent throws the collision synchronously', () => {
    expect(() => prepareEvent({ ...BASE, details: { 'user.id': 'x' } })).toThrow(AuditValidationError);
  });

  // Keys named like Object.prototype members are ordinary detail keys, not collisions.
  it.each(['toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'])('keeps a details key named %s', (key) => {
    const r = map({ ...BASE, details: { [key]: 'v' } });
    expect(r.attributes[key]).toBe('v');
  });
});

// Found in review: a semantic attribute that a typed field writes went through as a detail with none of its rules.
describe('a detail named as a semantic attribute a typed field writes', () => {
  const service = { action: 'CALL', outcome: 'success' as const, actor: { id: 'svc', type: 'service' as const } };
  const issuesOf = (details: Record<string, unknown>): readonly ValidationIssue[] => {
    try {
      prepareEvent({ ...service, details } as AuditEvent);
    } catch (e) {
      if (e instanceof AuditValidationError) return e.issues;
      throw e;
    }
    return [];
  };
  it.each<[string, unknown, RegExp | undefined]>([
    ['user.id', 'root\nFAKE', /^is written by actor\.id and takes its rules: /],
    ['user.id', 'alice', undefined],
    ['user.roles', ['admin\u202e'], /^is written by actor\.roles and takes its rules: /],
    ['user.roles', ['admin', 'auditor'], undefined],
    ['client.address', '10.0.0.1:22', /^is written by source\.address and takes its rules: must be one IPv4 or IPv6 address or host name/],
    ['client.address', '10.0.0.1', undefined],
    ['client.port', -1, /^is written by source\.port and takes its rules: /],
    ['client.port', 443, undefined],
    ['session.id', '', /^is written by session\.id and takes its rules: /],
    ['http.request.method', 'GET\r\nX: 1', /^is written by request\.method and takes its rules: /],
    ['url.path', '/login', undefined],
    ['error.type', '\u200b', /^is written by error\.type and takes its rules: /],
    ['other.key', 'root\nFAKE', undefined],
  ])('%s = %j', (key, value, refused) => {
    const issues = issuesOf({ [key]: value });
    if (refused === undefined) expect(issues).toEqual([]);
    else {
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toBe(`details.${key}`);
      expect(issues[0]!.message).toMatch(refused);
    }
  });
});
