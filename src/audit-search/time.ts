/**
 * Times on the command line (`--since`, `--until`) and in the output. Records carry nanoseconds since the
 * epoch (OTLP `timeUnixNano`), so comparisons are made in BigInt nanoseconds, never rounded to milliseconds.
 */

const NS_PER_MS = 1_000_000n;
const RELATIVE = /^(\d{1,9})(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/**
 * ISO 8601 as people type it: a date, optionally a time (T or a space), optional fraction (up to 9 digits are
 * kept) and an optional offset. Without an offset the time is UTC — the output shows UTC, so a time copied
 * from it means the same thing on every machine.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9})\d*)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Nanoseconds since the epoch for `text`: ISO 8601 (see ISO) or a duration before `now` (`30s`, `30m`, `2h`,
 * `7d`, `2w`). Undefined when it is neither, or names a date that does not exist (2026-02-30).
 */
export function parseTimeArg(text: string, now: Date): bigint | undefined {
  const t = text.trim();
  const rel = RELATIVE.exec(t);
  if (rel) return BigInt(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!]!) * NS_PER_MS;
  const m = ISO.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zoneRaw] = m;
  let zone = (zoneRaw ?? 'Z').toUpperCase();
  if (zone !== 'Z' && zone.length === 3) zone += ':00';
  else if (zone !== 'Z' && !zone.includes(':')) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone}`);
  if (!Number.isFinite(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March: a date that does not exist is refused, not moved.
  const probe = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (probe.getUTCMonth() !== Number(mo) - 1 || probe.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  return BigInt(ms) * NS_PER_MS + BigInt(frac.padEnd(9, '0') || '0');
}

/** A record time (ns) as ISO 8601 in UTC with milliseconds, as `Date#toISOString` writes it; undefined if out of Date's range. */
export function isoOfNanos(ns: bigint): string | undefined {
  const ms = Number(ns / NS_PER_MS);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
