import { describe, expect, it } from 'vitest';
import { eventually } from '../../env/eventually.ts';

describe('eventually', () => {
  it('returns the first defined value, treating throws as "not yet"', async () => {
    let calls = 0;
    const v = await eventually(
      'the third call',
      () => {
        calls += 1;
        if (calls === 1) return Promise.reject(new Error('not up'));
        return Promise.resolve(calls === 3 ? 'done' : undefined);
      },
      { intervalMs: 1 },
    );
    expect(v).toBe('done');
    expect(calls).toBe(3);
  });

  it('times out naming what it waited for and the last error', async () => {
    await expect(
      eventually('the moon', () => Promise.reject(new Error('ECONNREFUSED')), { timeoutMs: 20, intervalMs: 5 }),
    ).rejects.toThrow('timed out after 20 ms waiting for the moon (last error: ECONNREFUSED)');
  });

  it('accepts falsy values other than undefined', async () => {
    expect(await eventually('zero', () => Promise.resolve(0))).toBe(0);
    expect(await eventually('false', () => Promise.resolve(false))).toBe(false);
  });
});
