/**
 * Configuration from the environment (ARCHITECTURE.md §6), validated with zod. A bad value stops start-up with a
 * message naming the variable, the value and what is allowed — except for secrets, whose values are never
 * echoed. Standard OTel variables are read where they apply: OTEL_BLRP_* and OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL
 * here, the other OTEL_EXPORTER_OTLP_* by the OTLP transport itself (see deliver/otlp-sender.ts), OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES by the SDK.
 */
import { z } from 'zod';
import { AuditConfigError } from '../core/errors.js';
import { OTLP_PROTOCOLS } from '../deliver/otlp-sender.js';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const posInt = (min: number) => z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(Number.MAX_SAFE_INTEGER));

/** Variable → schema. The `allowed` text is what error messages show. */
const VARS = {
  OTEL_AUDIT_DIR: { schema: z.string().min(1), allowed: 'a directory path' },
  OTEL_AUDIT_FILE: { schema: z.enum(['journal', 'fallback', 'off']), allowed: 'journal, fallback, off' },
  OTEL_AUDIT_FSYNC: { schema: z.enum(['always', 'batch', 'off']), allowed: 'always, batch, off' },
  OTEL_AUDIT_MAX_FILE_BYTES: { schema: posInt(4096), allowed: 'a whole number of bytes >= 4096' },
  OTEL_AUDIT_MAX_FILES: { schema: posInt(1), allowed: 'a whole number >= 1' },
  OTEL_AUDIT_STDOUT: { schema: bool, allowed: 'true, false, 1, 0' },
  OTEL_AUDIT_ON_LOSS: { schema: z.enum(['warn', 'throw']), allowed: 'warn, throw' },
  OTEL_AUDIT_DEFAULT_ACTOR: { schema: z.enum(['os-user', 'none']), allowed: 'os-user, none' },
  OTEL_AUDIT_LOGGER_NAME: { schema: z.string().min(1).max(256), allowed: 'a non-empty logger name' },
  OTEL_AUDIT_HMAC_KEY: { schema: z.string().min(1), allowed: 'a key', secret: true, keyMaterial: true },
  OTEL_AUDIT_HMAC_KEY_FILE: { schema: z.string().min(1), allowed: 'a file path', keyMaterial: true },
  OTEL_AUDIT_SIGNING_KEY_FILE: { schema: z.string().min(1), allowed: 'a file path', keyMaterial: true },
  OTEL_AUDIT_KEY_ID: { schema: z.string().min(1), allowed: 'a key id', keyMaterial: true },
  OTEL_AUDIT_CHECKPOINT_RECORDS: { schema: posInt(1), allowed: 'a whole number >= 1' },
  OTEL_AUDIT_CHECKPOINT_INTERVAL_MS: { schema: posInt(0), allowed: 'a whole number of milliseconds (0: only by count)' },
  // Read here too (not only by the SDK) because the transport is chosen by it; the LOGS one wins (OTLP exporter spec).
  OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: { schema: z.enum(OTLP_PROTOCOLS), allowed: OTLP_PROTOCOLS.join(', ') },
  OTEL_EXPORTER_OTLP_PROTOCOL: { schema: z.enum(OTLP_PROTOCOLS), allowed: OTLP_PROTOCOLS.join(', ') },
  OTEL_BLRP_MAX_QUEUE_SIZE: { schema: posInt(1), allowed: 'a whole number >= 1' },
  OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: { schema: posInt(1), allowed: 'a whole number >= 1' },
  OTEL_BLRP_EXPORT_TIMEOUT: { schema: posInt(0), allowed: 'a whole number of milliseconds' },
  OTEL_BLRP_SCHEDULE_DELAY: { schema: posInt(0), allowed: 'a whole number of milliseconds' },
} as const;

type Vars = typeof VARS;
export type AuditEnv = { -readonly [K in keyof Vars]?: z.output<Vars[K]['schema']> };

/** Parses every known variable; throws one AuditConfigError listing each bad one. */
export function readAuditEnv(env: NodeJS.ProcessEnv = process.env): AuditEnv {
  const out: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [name, spec] of Object.entries(VARS) as [keyof Vars, Vars[keyof Vars]][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue; // empty means unset (OTel SDK environment spec)
    if (raw.trim() === '') {
      // Blank is a mistake, not "unset": for a key it would silently mean no MAC at all.
      if ('keyMaterial' in spec) errors.push(`${name} is blank (only whitespace): set a value or unset the variable`);
      continue;
    }
    const r = (spec.schema as z.ZodType).safeParse(name === 'OTEL_AUDIT_DIR' || 'secret' in spec ? raw : raw.trim());
    if (r.success) out[name] = r.data;
    else {
      const shown = 'secret' in spec ? '(value hidden)' : JSON.stringify(raw);
      errors.push(`${name}=${shown} is invalid: allowed values are ${spec.allowed}`);
    }
  }
  if (errors.length > 0) throw new AuditConfigError(`otel-audit configuration: ${errors.join('; ')}`);
  return out as AuditEnv;
}
