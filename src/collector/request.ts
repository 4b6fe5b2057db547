/**
 * One `/v1/logs` body → the normalized ExportLogsServiceRequest: media type and encoding checked, the body
 * read within the byte budget (body.ts), gunzipped within it, then parsed as OTLP/JSON (normalize.ts) or
 * decoded as OTLP/protobuf (protobuf-decode.ts). Both give the same request, so everything after (counting,
 * faults, the `--out` line) does not depend on the wire format.
 */
import type { IncomingMessage } from 'node:http';
import { normalizeExportRequest, OtlpFormatError } from '../otlp/normalize.js';
import { decodeLogsRequest } from '../otlp/protobuf-decode.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import { gunzipLimited, HttpError, readBody, type ByteBudget, type Hold } from './body.js';
import { mediaType, PROTOBUF } from './responses.js';
import { errorText } from '../core/errors.js';
import { memberNames, protoNameMessage } from '../otlp/json-members.js';
import { checkJsonValueCount, MAX_JSON_CONTAINERS, MAX_PROTOBUF_MESSAGES, ValueLimitError } from '../otlp/value-limit.js';

export interface BodyLimits {
  /** Largest accepted body, compressed and decompressed. */
  maxBodyBytes: number;
  /** The in-flight budget shared by all requests. */
  budget: ByteBudget;
}

export interface ExportRequest {
  request: ExportLogsServiceRequest;
  /** Length of the body, decompressed. */
  bodyBytes: number;
}

/**
 * Reads, decompresses and decodes the body, taking its bytes from the budget into `hold` (the caller
 * releases it); throws `HttpError` for the client's mistakes, and with status 503 when the budget is used up.
 */
export async function readExportRequest(req: IncomingMessage, limits: BodyLimits, hold: Hold): Promise<ExportRequest> {
  const contentType = mediaType(req);
  if (contentType !== 'application/json' && contentType !== PROTOBUF) {
    const got = contentType === '' ? 'no Content-Type' : `Content-Type ${contentType}`;
    throw new HttpError(
      415,
      `this development receiver takes OTLP/JSON (Content-Type: application/json) or OTLP/protobuf (Content-Type: ${PROTOBUF}); got ${got}`,
    );
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new HttpError(415, `unsupported Content-Encoding ${encoding}; use gzip or identity`);
  }
  let body = await readWithinBudget(req, limits, hold);
  if (encoding === 'gzip') body = await gunzipWithinBudget(body, limits, hold);
  let request: ExportLogsServiceRequest;
  try {
    request = contentType === PROTOBUF ? decodeProtobuf(body) : parseJson(body);
  } catch (err) {
    // Within the byte limit, but more objects than this receiver decodes at once (value-limit.ts).
    if (err instanceof ValueLimitError) throw new HttpError(413, err.message);
    throw err;
  }
  return { request, bodyBytes: body.length };
}

async function readWithinBudget(req: IncomingMessage, { maxBodyBytes, budget }: BodyLimits, hold: Hold): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) throw new HttpError(413, `body larger than ${maxBodyBytes} bytes`);
  // Refused before a byte is read when the declared length cannot fit now.
  if (declared > budget.limit) throw new HttpError(413, `body larger than the ${budget.limit} bytes this receiver holds at once`);
  if (declared > budget.available()) throw new HttpError(503, 'busy');

  const result = await readBody(req, maxBodyBytes, budget, hold);
  if (result.kind === 'aborted') throw new HttpError(400, 'request aborted');
  if (result.kind === 'too-large') throw new HttpError(413, `body larger than ${maxBodyBytes} bytes`);
  if (result.kind === 'busy') {
    if (result.alone) throw new HttpError(413, `body larger than the ${budget.limit} bytes this receiver holds at once`);
    throw new HttpError(503, 'busy');
  }
  return result.body;
}

/**
 * The decompressed bytes are held too: at most what the budget has left (and maxBodyBytes). The room is
 * reserved before inflating, so that concurrent inflations cannot overshoot together. Past it while other
 * requests hold bytes: 503 (it may fit later); alone, it never fits: 413.
 */
async function gunzipWithinBudget(body: Buffer, { maxBodyBytes, budget }: BodyLimits, hold: Hold): Promise<Buffer> {
  const room = Math.min(maxBodyBytes, budget.available());
  const alone = budget.used === hold.bytes;
  budget.take(hold, room);
  const out = await gunzipLimited(body, room, room < maxBodyBytes && !alone ? 503 : 413);
  budget.giveBack(hold, room - out.length);
  return out;
}

/** fatal: invalid UTF-8 is refused, as the protobuf path refuses it, not stored as U+FFFD (a copy that differs). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseJson(body: Buffer): ExportLogsServiceRequest {
  checkJsonValueCount(body, MAX_JSON_CONTAINERS);
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new HttpError(400, 'invalid JSON: the body is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `invalid JSON: ${errorText(err)}`);
  }
  // JSON.parse keeps the last of two members of one name, and on some V8 versions misreads an escaped name: the
  // line written would then differ from what was sent, and could verify where the sent one does not. Refused, as
  // the verifier refuses such a line.
  const names = memberNames(text);
  if (names.duplicate !== undefined) throw new HttpError(400, `invalid OTLP/JSON: the member name ${JSON.stringify(names.duplicate)} appears twice in one object`);
  if (names.escaped !== undefined) throw new HttpError(400, `invalid OTLP/JSON: the member name ${JSON.stringify(names.escaped)} is written with an escape`);
  if (names.protoName !== undefined) throw new HttpError(400, `invalid OTLP/JSON: the ${protoNameMessage(names.protoName)}`);
  try {
    return normalizeExportRequest(parsed);
  } catch (err) {
    if (err instanceof OtlpFormatError) throw new HttpError(400, err.message);
    throw err;
  }
}

function decodeProtobuf(body: Buffer): ExportLogsServiceRequest {
  try {
    return decodeLogsRequest(body, MAX_PROTOBUF_MESSAGES);
  } catch (err) {
    if (err instanceof OtlpFormatError) throw new HttpError(400, `invalid protobuf ExportLogsServiceRequest: ${err.message}`);
    throw err;
  }
}
