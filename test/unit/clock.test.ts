import { afterEach, describe, expect, it, vi } from 'vitest';
import { steadyNow, wallNow } from '../../src/clock.ts';

describe('the steady clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads as wall time since the epoch', () => {
    expect(Math.abs(steadyNow() - Date.now())).toBeLessThan(5_000);
  });

  it('does not step back when the wall clock is set back an hour; the wall clock does', () => {
    const before = steadyNow();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    expect(wallNow()).toBeLessThan(before - 3_000_000);
    expect(steadyNow()).toBeGreaterThanOrEqual(before);
  });
});
