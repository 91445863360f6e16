import { describe, expect, it } from 'vitest';
import {
  formatGoDuration,
  formatGoDurationNs,
  parseGoDuration,
  parseGoDurationNs,
} from '../../../src/config/go-duration.ts';

const s = 1_000_000_000n;
const ms = 1_000_000n;
const us = 1_000n;
const minute = 60n * s;
const hour = 60n * minute;

describe('parseGoDurationNs: Go time_test.go parseDurationTests', () => {
  it.each<[string, bigint]>([
    ['0', 0n],
    ['5s', 5n * s],
    ['30s', 30n * s],
    ['1478s', 1478n * s],
    ['-5s', -5n * s],
    ['+5s', 5n * s],
    ['-0', 0n],
    ['+0', 0n],
    ['5.0s', 5n * s],
    ['5.6s', 5n * s + 600n * ms],
    ['5.s', 5n * s],
    ['.5s', 500n * ms],
    ['1.0s', s],
    ['1.00s', s],
    ['1.004s', s + 4n * ms],
    ['1.0040s', s + 4n * ms],
    ['100.00100s', 100n * s + ms],
    ['10ns', 10n],
    ['11us', 11n * us],
    ['12µs', 12n * us], // U+00B5
    ['12μs', 12n * us], // U+03BC
    ['13ms', 13n * ms],
    ['14s', 14n * s],
    ['15m', 15n * minute],
    ['16h', 16n * hour],
    ['3h30m', 3n * hour + 30n * minute],
    ['10.5s4m', 4n * minute + 10n * s + 500n * ms],
    ['-2m3.4s', -(2n * minute + 3n * s + 400n * ms)],
    ['1h2m3s4ms5us6ns', hour + 2n * minute + 3n * s + 4n * ms + 5n * us + 6n],
    ['39h9m14.425s', 39n * hour + 9n * minute + 14n * s + 425n * ms],
    ['52763797000ns', 52763797000n],
    ['0.3333333333333333333h', 20n * minute],
    ['9007199254740993ns', (1n << 53n) + 1n],
    ['9223372036854775807ns', (1n << 63n) - 1n],
    ['9223372036854775.807us', (1n << 63n) - 1n],
    ['9223372036s854ms775us807ns', (1n << 63n) - 1n],
    ['-9223372036854775808ns', -(1n << 63n)],
    ['-9223372036854775.808us', -(1n << 63n)],
    ['-9223372036s854ms775us808ns', -(1n << 63n)],
    ['-2562047h47m16.854775808s', -(1n << 63n)],
    ['2562047h47m16.854775807s', (1n << 63n) - 1n],
    ['0.100000000000000000000h', 6n * minute],
    ['0.830103483285477580700h', 49n * minute + 48n * s + 372539827n],
    // The durations of the issue: accepted, as Go accepts them.
    ['600h', 600n * hour],
    ['2000h', 2000n * hour],
    ['2562047h', 2562047n * hour],
  ])('%s → %d ns', (text, ns) => {
    expect(parseGoDurationNs(text)).toEqual({ ns });
  });
});

describe('parseGoDurationNs: Go time_test.go parseDurationErrorTests, with the whole message', () => {
  it.each<[string, string]>([
    ['', 'time: invalid duration ""'],
    ['3', 'time: missing unit in duration "3"'],
    ['-', 'time: invalid duration "-"'],
    ['s', 'time: invalid duration "s"'],
    ['.', 'time: invalid duration "."'],
    ['-.', 'time: invalid duration "-."'],
    ['.s', 'time: invalid duration ".s"'],
    ['+.s', 'time: invalid duration "+.s"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['\uFFFD', 'time: invalid duration "\\xef\\xbf\\xbd"'],
    ['\uFFFD hello \uFFFD world', 'time: invalid duration "\\xef\\xbf\\xbd hello \\xef\\xbf\\xbd world"'],
    ['9223372036854775810ns', 'time: invalid duration "9223372036854775810ns"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
    ['-9223372036854775809ns', 'time: invalid duration "-9223372036854775809ns"'],
    ['9223372036854776us', 'time: invalid duration "9223372036854776us"'],
    ['3000000h', 'time: invalid duration "3000000h"'],
    ['9223372036854775.808us', 'time: invalid duration "9223372036854775.808us"'],
    ['9223372036854ms775us808ns', 'time: invalid duration "9223372036854ms775us808ns"'],
    // The value, and the first hour past the range.
    ['9999999999999h', 'time: invalid duration "9999999999999h"'],
    ['2562048h', 'time: invalid duration "2562048h"'],
    ['2562047h47m16.854775808s', 'time: invalid duration "2562047h47m16.854775808s"'],
    // Others: spaces, doubled signs, a unit first, an unknown unit spelled like a known one.
    ['5 s', 'time: unknown unit " s" in duration "5 s"'],
    ['--5s', 'time: invalid duration "--5s"'],
    ['m5', 'time: invalid duration "m5"'],
    ['5S', 'time: unknown unit "S" in duration "5S"'],
    ['1h"', 'time: unknown unit "h\\"" in duration "1h\\""'],
  ])('%j → %s', (text, error) => {
    expect(parseGoDurationNs(text)).toEqual({ error });
  });
});

describe('parseGoDuration (milliseconds)', () => {
  it.each([
    ['20s', 20_000],
    ['1.5s', 1500],
    ['1500us', 1.5],
    ['1µs', 0.001],
    ['2000000ns', 2],
    ['-5s', -5000],
    ['600h', 2_160_000_000],
    ['2562047h47m16.854775807s', 9_223_372_036_854.775],
  ])('%s → %d ms', (text, expected) => {
    expect(parseGoDuration(text)).toBeCloseTo(expected, 3);
  });

  it('is undefined where Go refuses', () => {
    expect(parseGoDuration('9999999999999h')).toBeUndefined();
  });
});

describe('formatGoDurationNs: Go time_test.go durationTests', () => {
  it.each<[bigint, string]>([
    [0n, '0s'],
    [1n, '1ns'],
    [1100n, '1.1µs'],
    [2200n * us, '2.2ms'],
    [3300n * ms, '3.3s'],
    [4n * minute + 5n * s, '4m5s'],
    [4n * minute + 5001n * ms, '4m5.001s'],
    [5n * hour + 6n * minute + 7001n * ms, '5h6m7.001s'],
    [8n * minute + 1n, '8m0.000000001s'],
    [(1n << 63n) - 1n, '2562047h47m16.854775807s'],
    [-(1n << 63n), '-2562047h47m16.854775808s'],
    [600n * hour, '600h0m0s'],
  ])('%d ns → %s', (ns, text) => {
    expect(formatGoDurationNs(ns)).toBe(text);
    expect(parseGoDurationNs(text)).toEqual({ ns });
  });
});

describe('formatGoDuration (milliseconds)', () => {
  it.each([
    [180_000, '3m0s'],
    [20_000, '20s'],
    [5_400_000, '1h30m0s'],
    [1500, '1.5s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.001, '1µs'],
    [0, '0s'],
    [-2000, '-2s'],
    [2_160_000_000, '600h0m0s'],
  ])('%d ms → %s (as Go prints it)', (value, text) => {
    expect(formatGoDuration(value)).toBe(text);
    expect(parseGoDuration(text)).toBeCloseTo(value, 6);
  });
});
