import { describe, expect, it } from 'vitest';
import { formatQuantity, parseQuantity, sumQuantities } from '../../../src/kube/quantity.ts';

describe('quantities print as resource.Quantity does', () => {
  it.each([
    ['8', '8'],
    ['7800m', '7800m'],
    ['0.5', '500m'],
    ['1.5', '1500m'],
    ['1500', '1500'],
    ['15000', '15k'],
    ['2k', '2k'],
    ['100M', '100M'],
    ['1n', '1n'],
    ['0.0000000001', '1n'], // finer than nano rounds up
    ['1e3', '1e3'],
    ['16Gi', '16Gi'],
    ['1024Ki', '1Mi'],
    ['16283004Ki', '16283004Ki'],
    ['1023', '1023'],
    ['512Ki', '512Ki'],
    ['0.5Ki', '512'], // not a whole number of Ki: decimal
    ['-2', '-2'],
    ['0', '0'],
    ['0Gi', '0'],
  ])('%s → %s', (input, expected) => {
    expect(formatQuantity(parseQuantity(input))).toBe(expected);
  });

  it.each(['', 'abc', '1.2.3', '5Xi', '--1', 'm'])('rejects %j', (input) => {
    expect(() => parseQuantity(input)).toThrow(/invalid quantity/);
  });

  it.each([
    [['4', '2', '500m'], '6500m'],
    [['8Gi', '4Gi', '1Gi'], '13Gi'],
    [['16283004Ki', '16283004Ki'], '32566008Ki'],
    [[], '0'],
  ])('sums %j → %s', (inputs, expected) => {
    expect(formatQuantity(sumQuantities(inputs.map(parseQuantity)))).toBe(expected);
  });

  it('takes the format of the first non-zero term', () => {
    // 2048: a binary sum prints as 2Ki, a decimal one as 2048.
    expect(formatQuantity(sumQuantities(['0', '1Ki', '1024'].map(parseQuantity)))).toBe('2Ki');
    expect(formatQuantity(sumQuantities(['1024', '1Ki'].map(parseQuantity)))).toBe('2048');
    // A binary sum that is not a whole number of Ki prints in plain units.
    expect(formatQuantity(sumQuantities(['1Gi', '1G'].map(parseQuantity)))).toBe('2073741824');
  });
});
