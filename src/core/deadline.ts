/** Waiting for something, but not past a deadline (shutdown's bound): the one way the pipeline does it. */

/** The longest a Node timer waits (2^31 − 1 ms): a longer delay fires after 1 ms. */
export const MAX_TIMER_MILLIS = 2_147_483_647;

/**
 * Settles as `p` does (its rejection included), or after `ms` (≤ 0: at once) if that comes first. The timer is
 * cleared when `p` wins. `unref`: the wait alone does not keep the process alive.
 */
export function settleWithin(p: Promise<unknown>, ms: number, { unref = false }: { unref?: boolean } = {}): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
    if (unref) timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
