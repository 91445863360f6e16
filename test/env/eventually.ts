// Polling for the test environment and tests: wait until a probe yields a value.

import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Calls `probe` until it resolves to something other than undefined and returns that. A probe that
 * throws counts as "not yet"; on time-out the last error is part of the message.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: EventuallyOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}${why}`, { cause: lastError });
    }
    await sleep(opts.intervalMs ?? 200);
  }
}
