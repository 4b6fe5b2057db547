/**
 * Configuration from the environment (ARCHITECTURE.md §6): every variable of the table of options (table.ts),
 * validated with zod. A bad value stops start-up with a message naming the variable, the value and what is
 * allowed — except for secrets, whose values are never echoed. Standard OTel variables are read where they
 * apply: OTEL_BLRP_* and OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL here, the other OTEL_EXPORTER_OTLP_* by the OTLP
 * transport itself (see deliver/otlp-sender.ts), OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES by the SDK.
 */
import { AuditConfigError } from '../core/errors.js';
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
