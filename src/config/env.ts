/**
 * Configuration from the environment (ARCHITECTURE.md §6): every variable of the table of options (table.ts),
 * validated with zod. A bad value stops start-up with a message naming the variable, the value and what is
 * allowed — except for secrets, whose values are never echoed. Standard OTel variables are read where they
 * apply: OTEL_BLRP_* and OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL here, the other OTEL_EXPORTER_OTLP_* by the OTLP
 * transport itself (see deliver/otlp-sender.ts), OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES by the SDK.
 */
import { AuditConfigError } from '../core/errors.js';
import { sayOnce } from '../core/say.js';
import { ROWS, type EnvValue } from './table.js';

/** Variable → parsed value, for the variables that are set. */
export type AuditEnv = { readonly [name: string]: EnvValue };

/** Parses every variable of the table; throws one AuditConfigError listing each bad one. */
export function readAuditEnv(env: NodeJS.ProcessEnv = process.env): AuditEnv {
  const out: Record<string, EnvValue> = {};
  const errors: string[] = [];
  for (const [, row] of ROWS) {
    for (const name of row.env) {
      const raw = env[name];
      if (raw === undefined || raw === '') continue; // empty means unset (OTel SDK environment spec)
      if (raw.trim() === '') {
        if (row.kind.keyMaterial === true) errors.push(`${name} is blank (only whitespace): set a value or unset the variable`);
        continue;
      }
      const secret = row.secret?.includes(name) === true;
      const r = row.kind.text.safeParse(row.kind.verbatim === true || secret ? raw : raw.trim());
      if (r.success) out[name] = r.data;
      else errors.push(`${name}=${secret ? '(value hidden)' : JSON.stringify(raw)} is invalid: allowed values are ${row.kind.envAllowed}`);
    }
  }
  if (errors.length > 0) throw new AuditConfigError(`otel-audit configuration: ${errors.join('; ')}`);
  return out;
}

const AUDIT_PREFIX = 'OTEL_AUDIT_';
const KNOWN: readonly string[] = [...new Set(ROWS.flatMap(([, row]) => row.env.filter((n) => n.startsWith(AUDIT_PREFIX))))];

/**
 * `OTEL_AUDIT_*` variables that otel-audit does not read: said once each on stderr, with the closest one it reads.
 * A misspelling (`OTEL_AUDIT_HMAC_KEYFILE`) would otherwise leave records unsigned, or `fsync` at its default,
 * without a word. Not refused: a variable of a newer version must not stop an older one. Values are never shown.
 */
export function warnUnknownAuditVariables(env: NodeJS.ProcessEnv = process.env): string[] {
  const unknown = Object.keys(env).filter((n) => n.startsWith(AUDIT_PREFIX) && !KNOWN.includes(n));
  for (const name of unknown) {
    const near = closest(name);
    sayOnce(`otel-audit: ${name} is not a variable otel-audit reads; it is ignored${near === undefined ? '' : ` (did you mean ${near}?)`}`);
  }
  return unknown;
}

/** The known name within 3 edits of `name`, the nearest first; undefined when none is. */
function closest(name: string): string | undefined {
  let best: string | undefined;
  let bestD = 4;
  for (const k of KNOWN) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

/** Levenshtein distance (insertions, deletions, substitutions), two rows. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
