/** Short rendering of an offending value for error messages: strings quoted, long ones cut, never the whole value. */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') {
    const quoted = JSON.stringify(v);
    return quoted.length > 50 ? `${quoted.slice(0, 46)}…" (${v.length} chars)` : quoted;
  }
  if (typeof v === 'bigint') return `${v}n`;
  return String(v);
}

/**
 * A value the SDK passes through unchecked where OTLP carries a string (a scope's name or version, an event name):
 * a string as is, anything else as its text. Never throws (a `toString` that throws gives "[unprintable]"): a
 * record these are read from must still seal, or the chain would stop at it.
 */
export function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return String(v);
  } catch {
    return '[unprintable]';
  }
}
