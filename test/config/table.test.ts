/**
 * Walks the table of options (src/config/table.ts): for every row, a bad environment value and a bad code value
 * are refused naming the option, the default applies, and code wins over the environment. Sample values come
 * from the row's kind, so a row added to the table is covered here with no change; a new kind fails to compile
 * until it has samples below.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { readAuditEnv } from '../../src/config/env.js';
import { resolveOptions, type AuditProcessorOptions, type ResolvedOptions } from '../../src/config/options.js';
import { isEnvOnly, ROWS, type EnvValue, type Kind, type OptionName, type OptionValues } from '../../src/config/table.js';
import { configError } from './config-error.js';
import { ed25519Keys } from '../helpers/make-signed-chain.js';

/** Checkpoint options need the Ed25519 key that signs checkpoints (options.ts, checkCheckpointSettings). */
const keyFile = ed25519Keys(mkdtempSync(join(tmpdir(), 'otel-audit-table-'))).privFile;
const keyEnv = (name: string): NodeJS.ProcessEnv => (name.startsWith('checkpoint') ? { OTEL_AUDIT_SIGNING_KEY_FILE: keyFile } : {});

interface Samples {
  /** Text the variable refuses; undefined when every non-blank text is accepted (a path). */
  badEnv?: string;
  /** A code value refused (for key material: never echoed); undefined when every code value passes. */
  badCode?: unknown;
  /** Good values: env text whose value is not `def`, and a code value other than it (undefined: none). */
  good?: (def: unknown) => { env: string; code: unknown };
}

function samples(kind: Kind<unknown, EnvValue>): Samples {
  switch (kind.name) {
    case 'wholeNumber': {
      const min = kind.min!;
      return { badEnv: min > 0 ? String(min - 1) : '-1', badCode: min - 0.5, good: (d) => ({ env: String(Number(d) + 1), code: Number(d) + 2 }) };
    }
    case 'oneOf': {
      const values = kind.values!;
      const other = (than: unknown): string => values.find((v) => v !== than)!;
      return { badEnv: `not-${values[0]}`, badCode: values[0]!.toUpperCase(), good: (d) => ({ env: other(d), code: other(other(d)) }) };
    }
    case 'flag':
      return { badEnv: 'yes', badCode: 'true', good: (d) => ({ env: String(!d), code: d }) };
    case 'label':
      return { badEnv: 'x'.repeat(kind.max! + 1), badCode: '', good: () => ({ env: 'from-env', code: 'from-code' }) };
    case 'path':
      return { badEnv: ' /from/env', badCode: 42, good: () => ({ env: '/from/env', code: '/from/code' }) };
    case 'keys':
      // Blank key material is refused, and keys not made by loadSigningKeys (real keys: signing-keys-option.test.ts).
      return { badEnv: ' \t', badCode: { record: { keyId: 'k-0123456789', algorithm: 'EdDSA' } } };
  }
}

/** Code options setting `name` (dotted: `exporter.protocol`) to `value`. */
function codeWith(name: string, value: unknown): AuditProcessorOptions {
  const [head, field] = name.split('.') as [string, string | undefined];
  return (field === undefined ? { [head]: value } : { [head]: { [field]: value } }) as AuditProcessorOptions;
}

function valueAt(o: ResolvedOptions, name: string): unknown {
  return name.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], o);
}

const shown = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(v));
const variables = ROWS.flatMap(([name, row]) => row.env.map((variable) => ({ name, row, variable })));
const options = ROWS.filter(([, row]) => !isEnvOnly(row)).map(([name, row]) => ({ name, row }));

describe('every environment variable of the table', () => {
  it.each(variables.map((v) => [v.variable, v] as const))('%s: a bad value stops start-up naming it', (variable, { row }) => {
    const { badEnv } = samples(row.kind);
    if (badEnv === undefined) return expect(readAuditEnv({ [variable]: ' any text ' })).toEqual({ [variable]: ' any text ' });
    for (const read of [() => readAuditEnv({ [variable]: badEnv }), () => resolveOptions({}, { [variable]: badEnv })]) {
      const err = configError(read);
      if (row.kind.keyMaterial === true && badEnv.trim() === '') {
        expect(err.message).toBe(`otel-audit configuration: ${variable} is blank (only whitespace): set a value or unset the variable`);
      } else {
        expect(err.message).toBe(`otel-audit configuration: ${variable}=${JSON.stringify(badEnv)} is invalid: allowed values are ${row.kind.envAllowed}`);
      }
    }
  });

  it.each(variables.filter((v) => v.row.secret?.includes(v.variable)).map((v) => [v.variable] as const))('%s is secret: never echoed', (variable) => {
    const err = configError(() => readAuditEnv({ [variable]: 'S3cr3t-value', OTEL_AUDIT_FSYNC: 'sometimes' }));
    expect(err.message).not.toContain('S3cr3t');
  });
});

describe('every code option of the table', () => {
  it.each(options.map((o) => [o.name, o] as const))('%s: a bad value is refused naming the option', (name, { row }) => {
    const { badCode } = samples(row.kind);
    if (badCode === undefined) return;
    const err = configError(() => resolveOptions(codeWith(name, badCode), {}));
    if (row.kind.keyMaterial === true) {
      expect(err.message).toMatch(new RegExp(`^otel-audit option ${name} is invalid \\(value hidden\\): .+; allowed values are `));
      expect(err.message.endsWith(row.kind.allowed)).toBe(true);
      expect(err.message).not.toContain('k-0123456789');
    } else expect(err.message).toBe(`otel-audit option ${name}=${shown(badCode)} is invalid: allowed values are ${row.kind.allowed}`);
  });

  it.each(options.map((o) => [o.name, o] as const))('%s: the default applies when neither code nor environment sets it', (name, { row }) => {
    const expected = name === 'dir' ? resolve(String(row.default)) : row.default;
    expect(valueAt(resolveOptions({}, {}), name)).toEqual(expected);
  });

  it.each(options.map((o) => [o.name, o] as const))('%s: the environment applies, and code wins over it', (name, { row }) => {
    const good = samples(row.kind).good?.(row.default);
    if (good === undefined) return;
    const key = keyEnv(name);
    for (const variable of row.env) {
      const fromEnv = valueAt(resolveOptions({}, { ...key, [variable]: good.env }), name);
      expect(fromEnv).toEqual(name === 'dir' ? resolve(good.env) : readAuditEnv({ [variable]: good.env })[variable]);
      expect(fromEnv).not.toEqual(row.default);
      expect(valueAt(resolveOptions(codeWith(name, good.code), { ...key, [variable]: good.env }), name)).toEqual(good.code);
    }
    expect(valueAt(resolveOptions(codeWith(name, good.code), key), name)).toEqual(good.code);
  });

  it.each(options.map((o) => [o.name, o] as const))('%s: an inherited value (a polluted Object.prototype) is not an option', (name, { row }) => {
    const good = samples(row.kind).good?.(row.default);
    if (good === undefined) return;
    const leaf = name.split('.').pop()!;
    const proto = Object.prototype as Record<string, unknown>;
    proto[leaf] = good.code;
    try {
      expect(valueAt(resolveOptions(name.includes('.') ? { exporter: {} } : {}, {}), name)).toEqual(name === 'dir' ? resolve(String(row.default)) : row.default);
    } finally {
      delete proto[leaf];
    }
  });

  it('names only options of AuditProcessorOptions, each with exactly its type', () => {
    expectTypeOf<OptionName>().toExtend<keyof AuditProcessorOptions | 'exporter.protocol'>();
    type Resolved = Omit<ResolvedOptions, 'exporter'> & { 'exporter.protocol': ResolvedOptions['exporter']['protocol'] };
    type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
    expectTypeOf<{ [K in OptionName]: Same<OptionValues[K], Resolved[K]> }>().toEqualTypeOf<{ [K in OptionName]: true }>();
  });
});

describe('README "Configuration" lists the variables of the table', () => {
  const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n### OTLP protocols\n'));
  /** `OTEL_AUDIT_HMAC_KEY[_FILE]` → both names; `OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL` → both. */
  const expand = (token: string): string[] => {
    const m = /^(.*?)\[(\w+)\](.*)$/.exec(token);
    return m === null ? [token] : [...expand(m[1]! + m[3]!), ...expand(m[1]! + m[2]! + m[3]!)];
  };
  const documented = new Set([...section.matchAll(/OTEL_[A-Z_]*(?:\[\w+\][A-Z_]*)*/g)].flatMap((m) => expand(m[0])));
  const inTable = new Set(variables.map((v) => v.variable));

  it('documents every variable of the table', () => {
    expect(section.length).toBeGreaterThan(0);
    expect([...inTable].filter((v) => !documented.has(v))).toEqual([]);
  });

  it('documents no OTEL_AUDIT_* or OTEL_BLRP_* variable the table lacks', () => {
    expect([...documented].filter((v) => /^OTEL_(AUDIT|BLRP)_/.test(v) && !inTable.has(v))).toEqual([]);
  });
});
