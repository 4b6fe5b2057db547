/**
 * Writes the HTML report of a verification to a file: the stream times are read from the same inputs
 * (stream-times.ts), the page rendered (html.ts) and written to a temporary file beside the target, then
 * renamed over it, so a reader never sees half a page and a failed run leaves no partial file. A run that reaches
 * no verdict writes a page that says so (renderNoVerdictPage), so that an earlier run's page does not stay.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { renderNoVerdictPage, renderVerifyReport, type NoVerdictPageInput, type VerifyReportPageInput } from './html.js';
import { collectStreamTimes } from './stream-times.js';

/** Throws on an I/O error (unreadable input, unwritable target); the target is then untouched. */
export async function writeVerifyReportFile(file: string, input: Omit<VerifyReportPageInput, 'streamTimes'>): Promise<void> {
  const streamTimes = await collectStreamTimes(input.inputs, input.report);
  await replaceFile(file, renderVerifyReport({ ...input, streamTimes }));
}

/** The page of a run that reached no verdict, in place of whatever page had the name. Throws on an I/O error. */
export async function writeNoVerdictReportFile(file: string, input: NoVerdictPageInput): Promise<void> {
  await replaceFile(file, renderNoVerdictPage(input));
}

/** Writes `html` beside `file` and renames it over it: a reader sees the old page or the new one, never half. */
async function replaceFile(file: string, html: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, html, { encoding: 'utf8', flag: 'wx', mode: 0o644 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
