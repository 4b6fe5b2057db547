/**
 * For `vi.mock('node:fs', …)`: `fs.writev` failing its next `failures.writev` calls with `failures.code` (a disk full
 * or failing for a moment), every other call real, started `failures.delayMs` late (a slow disk). Imports nothing
 * from node:fs itself.
 */
export const failures = { writev: 0, code: 'EIO', delayMs: 0 };

export function withFailingWritev<T extends { writev: unknown }>(actual: T): T & { default: T } {
  const real = actual.writev as (...a: unknown[]) => void;
  const writev = (...args: unknown[]): void => {
    if (failures.writev > 0) {
      failures.writev--;
      const cb = args[args.length - 1] as (e: NodeJS.ErrnoException) => void;
      process.nextTick(() => cb(Object.assign(new Error(`${failures.code}: simulated, write`), { code: failures.code })));
      return;
    }
    if (failures.delayMs > 0) setTimeout(() => real(...args), failures.delayMs);
    else real(...args);
  };
  return { ...actual, default: { ...actual, writev }, writev };
}
