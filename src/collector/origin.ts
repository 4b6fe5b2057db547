/**
 * Browsers can reach a loopback port from any web page: the checks that refuse a cross-origin request and a
 * DNS-rebinding attempt before anything else is done with it (tested in test/adversarial/collector-*.test.ts).
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Is `host` (a name or an IP address, without brackets or port) a loopback address? `localhost` and names
 * under `.localhost` resolve only to loopback (RFC 6761 §6.3); 0.0.0.0 is not accepted.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** The host of a `Host` header value (`name`, `name:port`, `[v6]:port`), brackets removed. */
function hostOfHeader(value: string): string {
  const v = value.trim();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') < 0 ? undefined : v.indexOf(']'));
  const colon = v.indexOf(':');
  return colon < 0 ? v : v.slice(0, colon);
}

/** Why a request is refused before anything else is done with it (403), or undefined. */
export function refusedOrigin(req: IncomingMessage, checkHost: boolean): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      const u = new URL(origin);
      if (u.protocol === 'http:' || u.protocol === 'https:') host = u.hostname.replace(/^\[|\]$/g, '');
    } catch {
      host = undefined; // "null" (sandboxed frames, file:) or garbage
    }
    if (host === undefined || !isLoopbackHost(host)) {
      return `cross-origin request refused: Origin ${JSON.stringify(origin.slice(0, 200))} is not a loopback origin`;
    }
  }
  const hostHeader = req.headers.host;
  if (checkHost && hostHeader !== undefined && !isLoopbackHost(hostOfHeader(hostHeader))) {
    return `request refused: Host ${JSON.stringify(hostHeader.slice(0, 200))} is not a loopback name (this receiver listens on loopback)`;
  }
  return undefined;
}
