/**
 * Setting aside what the collector refuses for good, live or on replay: the records go to `rejected/`
 * (never deleted by otel-audit) and the stream moves on, so the rest of it is delivered. The collector's copy
 * then lacks them and `verify` reports them deleted there; the local journal and `rejected/` still hold them.
 */
import { sayLoudly } from '../core/say.js';
import { keepRejected } from '../sinks/rejected.js';

/**
 * Keeps records first..last in `rejected/` and says so at error level and on stderr; returns the file.
 * `what` names them in the message ('records', 'replayed records'). Throws on I/O errors.
 */
export function keepAside(dir: string, streamId: string, first: number, last: number, body: Uint8Array | string, why: string, what: string): string {
  const where = keepRejected(dir, streamId, first, last, body);
  const msg = `otel-audit: the collector refused ${what} ${first}–${last} of stream ${streamId} for good (${why}); kept in ${where}`;
  sayLoudly(msg);
  return where;
}
