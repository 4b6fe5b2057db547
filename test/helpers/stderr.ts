/** What code writes to stderr while it runs (the lines otel-audit says loudly), not passed on. */
import { vi } from 'vitest';

export async function saidOnStderr<T>(run: () => T | Promise<T>): Promise<{ result: T; said: string }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
  try {
    const result = await run();
    return { result, said: chunks.join('') };
  } finally {
    spy.mockRestore();
  }
}
