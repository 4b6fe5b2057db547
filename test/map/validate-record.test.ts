import { describe, expect, it } from 'vitest';
import type { LogAttributes } from '../../src/otel/types.js';
import { validateRawAttributes } from '../../src/map/validate-record.js';
import { text } from '../../src/map/schema.js';
import { prng } from '../helpers/prng.js';

const VALID: LogAttributes = {
  'audit.actor.id': 'u-1',
  'audit.actor.type': 'user',
  'audit.action': 'LOGIN',
  'audit.outcome': 'success',
};

describe('validateRawAttributes: valid sets', () => {
  const valid: [label: string, attributes: LogAttributes][] = [
    ['the four required attributes', VALID],
    ['with a record id', { ...VALID, 'audit.record.id': 'rec-1' }],
    ['a service actor, failure', { ...VALID, 'audit.actor.type': 'service', 'audit.outcome': 'failure' }],
    ['a system actor, unknown outcome', { ...VALID, 'audit.actor.type': 'system', 'audit.outcome': 'unknown' }],
    [
      'with extra attributes of any kind',
      { ...VALID, 'user.id': 'u-1', 'client.port': 443, nested: { a: [1, 2] }, flag: true, 'audit.custom': 'x' },
    ],
    ['an explicitly undefined record id', { ...VALID, 'audit.record.id': undefined }],
    ['target, source and a reason with a line break (reason is free text)', { ...VALID, 'audit.target.id': 'doc-1', 'audit.target.type': 'doc', 'audit.target.name': 'Q3 report', 'audit.source.id': '10.0.0.1', 'audit.reason': 'denied:\npolicy 7' }],
  ];
  it.each(valid)('%s → undefined', (_label, attributes) => {
    expect(validateRawAttributes(attributes)).toBeUndefined();
  });
});

describe('validateRawAttributes: invalid sets', () => {
  const without = (key: string): LogAttributes => Object.fromEntries(Object.entries(VALID).filter(([k]) => k !== key));
  const cases: [label: string, attributes: LogAttributes, names: string[]][] = [
    ['no attributes', {}, ['audit.actor.id', 'audit.actor.type', 'audit.action', 'audit.outcome']],
    ['missing audit.actor.id', without('audit.actor.id'), ['audit.actor.id']],
    ['missing audit.actor.type', without('audit.actor.type'), ['audit.actor.type']],
    ['missing audit.action', without('audit.action'), ['audit.action']],
    ['missing audit.outcome', without('audit.outcome'), ['audit.outcome']],
    ['empty audit.actor.id', { ...VALID, 'audit.actor.id': '' }, ['audit.actor.id']],
    ['empty audit.action', { ...VALID, 'audit.action': '' }, ['audit.action']],
    ['numeric audit.action', { ...VALID, 'audit.action': 5 }, ['audit.action']],
    ['array audit.actor.id', { ...VALID, 'audit.actor.id': ['u'] }, ['audit.actor.id']],
    ['actor type robot', { ...VALID, 'audit.actor.type': 'robot' }, ['audit.actor.type']],
    ['actor type in upper case', { ...VALID, 'audit.actor.type': 'USER' }, ['audit.actor.type']],
    ['outcome ok', { ...VALID, 'audit.outcome': 'ok' }, ['audit.outcome']],
    ['boolean outcome', { ...VALID, 'audit.outcome': true }, ['audit.outcome']],
    ['empty record id', { ...VALID, 'audit.record.id': '' }, ['audit.record.id']],
    ['numeric record id', { ...VALID, 'audit.record.id': 42 }, ['audit.record.id']],
    // The typed API's rules for the fields these attributes come from (src/map/schema.ts).
    ['a line break in audit.actor.id', { ...VALID, 'audit.actor.id': 'alice\nFAKE audit.outcome=success' }, ['audit.actor.id']],
    ['a control character in audit.action', { ...VALID, 'audit.action': 'LOG\u0007IN' }, ['audit.action']],
    ['audit.actor.id over 256 characters', { ...VALID, 'audit.actor.id': 'u'.repeat(257) }, ['audit.actor.id']],
    ['a lone surrogate in audit.action', { ...VALID, 'audit.action': 'A\ud800' }, ['audit.action']],
    ['an array audit.target.id', { ...VALID, 'audit.target.id': ['a', 'b'] }, ['audit.target.id']],
    ['a line break in audit.target.type', { ...VALID, 'audit.target.type': 'doc\n' }, ['audit.target.type']],
    ['a numeric audit.reason', { ...VALID, 'audit.reason': 42 }, ['audit.reason']],
    ['an empty audit.source.id', { ...VALID, 'audit.source.id': '' }, ['audit.source.id']],
    [
      'several problems',
      { 'audit.action': 7, 'audit.actor.type': 'bot', 'audit.record.id': '' },
      ['audit.actor.id', 'audit.actor.type', 'audit.action', 'audit.outcome', 'audit.record.id'],
    ],
  ];
  it.each(cases)('%s', (_label, attributes, names) => {
    const msg = validateRawAttributes(attributes);
    expect(typeof msg).toBe('string');
    const parts = (msg as string).split('; ');
    expect(parts).toHaveLength(names.length);
    expect(parts.map((p) => p.slice(0, p.indexOf(': ')))).toEqual(names);
    for (const p of parts) expect(p.length).toBeGreaterThan(p.indexOf(': ') + 2);
  });

  it('is one line', () => {
    expect(validateRawAttributes({})).not.toMatch(/\n/);
  });

  it('names the allowed values of an enum', () => {
    const msg = validateRawAttributes({ ...VALID, 'audit.actor.type': 'robot', 'audit.outcome': 'maybe' }) ?? '';
    for (const v of ['user', 'service', 'system', 'success', 'failure', 'unknown']) expect(msg).toContain(v);
  });
});

describe('validateRawAttributes: the fast check agrees with the typed rule', () => {
  // Characters around every boundary the hand-written check tests: controls, DEL, surrogates (paired or not).
  // Also C1's bounds and blank characters (a string of only those is blank: found in review).
  const ALPHABET = ['a', 'Z', '0', ' ', '\u0000', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f', '\u00a0', '\u200b', '\u3000', '\ufeff', '\t', '\u200e', '\u00ad', '\u3164', '\u202a', '\u202e', '\u2066', '\u2069', '\u2070', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00', 'é'];
  // A value the fast check passes and the typed rule refuses would slip through unmarked (the other way round,
  // zod has the last word).
  it.each([
    ['actor ids (lengths around 256)', 'audit.actor.id', 11, [0, 1, 2, 5, 255, 256, 257], text(256)],
    ['reasons (free text: line breaks allowed, lone surrogates not)', 'audit.reason', 12, [0, 1, 2, 5, 4095, 4096, 4097], text(4096, false)],
  ] as const)('on 3,000 random %s', (_label, key, seed, lengths, rule) => {
    const rnd = prng(seed);
    for (let k = 0; k < 3000; k++) {
      const len = lengths[rnd(lengths.length)]!;
      let v = '';
      // Some values drawn from the alphabet alone, so that blank ones (only spaces and invisibles) come up.
      const only = rnd(4) === 0;
      while (v.length < len) v += only || rnd(3) === 0 ? ALPHABET[rnd(ALPHABET.length)]! : 'x';
      const typed = rule.safeParse(v).success;
      const raw = validateRawAttributes({ ...VALID, [key]: v }) === undefined;
      expect([JSON.stringify(v.slice(0, 300)), raw]).toEqual([JSON.stringify(v.slice(0, 300)), typed]);
    }
  });
});

describe("validateRawAttributes: only the record's own attributes count", () => {
  // What the SDK does with an attribute named __proto__: the attributes object gets another prototype.
  const inheriting = (own: LogAttributes, inherited: LogAttributes): LogAttributes => Object.assign(Object.create(inherited) as LogAttributes, own);
  it.each([
    ['a required attribute', 'audit.actor.id'],
    ['an enum attribute', 'audit.outcome'],
  ])('%s found only on the prototype is missing', (_label, key) => {
    const own = Object.fromEntries(Object.entries(VALID).filter(([k]) => k !== key));
    const msg = validateRawAttributes(inheriting(own, VALID)) ?? '';
    expect(msg.split('; ').map((p) => p.slice(0, p.indexOf(': ')))).toEqual([key]);
  });
  it('an invalid optional attribute on the prototype is ignored', () => {
    expect(validateRawAttributes(inheriting(VALID, { 'audit.target.id': '', 'audit.reason': 42 }))).toBeUndefined();
  });
});
