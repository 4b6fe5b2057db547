/**
 * Waiting for a condition, not for a time: a test that needs something to have happened (a record delivered, a
 * file written, a request received, a line on stderr) polls for it rather than sleeping a fixed time, which a
 * loaded machine may overrun. The bound only turns a hang into a failure with a clear message; it is no measure.
 */

/**
 * Resolves once `cond()` holds, polling every 20 ms; throws after `timeoutMs` (20 s by default) naming what was
 * waited for (`what`: a string, or a function called only then, e.g. to show the output seen so far).
 */
export async function until(cond: () => boolean, what: string | (() => string), timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
