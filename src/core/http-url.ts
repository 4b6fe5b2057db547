/** `text` parsed as a URL when it is one with the http: or https: scheme (OTLP/HTTP endpoints); else undefined. */
export function httpUrl(text: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return undefined;
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
}
