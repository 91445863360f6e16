import { describe, expect, it } from 'vitest';
import { formatGoDuration, parseGoDuration } from '../../../src/config/go-duration.ts';

describe('parseGoDuration', () => {
  it.each([
    ['20s', 20_000],
    ['3m0s', 180_000],
    ['3m', 180_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['500ms', 500],
    ['1500us', 1.5],
    ['1µs', 0.001],
    ['2000000ns', 2],
    ['0', 0],
    ['0s', 0],
    ['-5s', -5000],
    ['+5s', 5000],
    ['1h0m0.5s', 3_600_500],
  ])('%s → %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '5', 's', '5 s', '5x', '1d', 'm5', '--5s', '5s ', 'ten seconds'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe('formatGoDuration', () => {
  it.each([
    [180_000, '3m0s'],
    [20_000, '20s'],
    [15_000, '15s'],
    [5_400_000, '1h30m0s'],
    [1500, '1.5s'],
    [500, '500ms'],
    [0, '0s'],
    [-2000, '-2s'],
  ])('%d ms → %s (as Go prints it)', (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBe(ms);
  });
});
