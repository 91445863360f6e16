// Kubernetes resource quantities (`resource.Quantity`): parse, add, and print in canonical form, so
// that summed capacities read exactly as the Go agent writes them ("8", "7800m", "16283004Ki").
// Values are held as BigInt nano-units: the finest precision a Quantity keeps.

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value in units of 10^-9. */
  readonly nano: bigint;
  readonly format: QuantityFormat;
}

const NANO_EXPONENT = -9;
const decimalSuffixes: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const binarySuffixes: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const suffixOfExponent = new Map(Object.entries(decimalSuffixes).map(([s, e]) => [e, s]));
const suffixOfPower = new Map(Object.entries(binarySuffixes).map(([s, p]) => [p, s]));

const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)$/;

export const zeroQuantity: Quantity = { nano: 0n, format: 'DecimalSI' };

/** Parses a quantity string; throws on anything `resource.ParseQuantity` would reject. */
export function parseQuantity(text: string): Quantity {
  const m = QUANTITY.exec(text.trim());
  const [, sign = '', whole = '', fraction = '', suffix = ''] = m ?? [];
  if (m === null || (whole === '' && fraction === '')) throw new Error(`invalid quantity ${JSON.stringify(text)}`);
  const digits = BigInt(`${whole}${fraction}` || '0');
  let format: QuantityFormat;
  // value = digits × 10^exp10 × 1024^pow2
  let exp10 = -fraction.length;
  let pow2 = 0;
  if (suffix in binarySuffixes) {
    format = 'BinarySI';
    pow2 = binarySuffixes[suffix] ?? 0;
  } else if (/^[eE]/.test(suffix)) {
    format = 'DecimalExponent';
    exp10 += Number(suffix.slice(1));
  } else {
    format = 'DecimalSI';
    exp10 += decimalSuffixes[suffix] ?? 0;
  }
  let scaled = digits * 1024n ** BigInt(pow2);
  // To nano-units, rounding up anything finer (as resource.Quantity does).
  const shift = exp10 - NANO_EXPONENT;
  if (shift >= 0) scaled *= 10n ** BigInt(shift);
  else {
    const div = 10n ** BigInt(-shift);
    scaled = scaled / div + (scaled % div === 0n ? 0n : 1n);
  }
  return { nano: sign === '-' ? -scaled : scaled, format };
}

/** a + b; the sum takes the format of the first non-zero term, as `Quantity.Add` does. */
export function addQuantity(a: Quantity, b: Quantity): Quantity {
  return { nano: a.nano + b.nano, format: a.nano === 0n ? b.format : a.format };
}

export const sumQuantities = (qs: Iterable<Quantity>): Quantity => {
  let total = zeroQuantity;
  for (const q of qs) total = addQuantity(total, q);
  return total;
};

/** The canonical string, as `Quantity.String()` prints it. */
export function formatQuantity(q: Quantity): string {
  if (q.nano === 0n) return '0';
  const negative = q.nano < 0n;
  const abs = negative ? -q.nano : q.nano;
  const sign = negative ? '-' : '';
  const nanoPerUnit = 1_000_000_000n;
  let format = q.format;
  if (format === 'BinarySI' && (abs < 1024n * nanoPerUnit || abs % nanoPerUnit !== 0n)) format = 'DecimalSI';
  if (format === 'BinarySI') {
    let n = abs / nanoPerUnit;
    let power = 0;
    while (n % 1024n === 0n && suffixOfPower.has(power + 1)) {
      n /= 1024n;
      power++;
    }
    return `${sign}${n.toString()}${suffixOfPower.get(power) ?? ''}`;
  }
  let n = abs;
  let exponent = NANO_EXPONENT;
  while (n % 10n === 0n) {
    n /= 10n;
    exponent++;
  }
  const r = ((exponent % 3) + 3) % 3;
  n *= 10n ** BigInt(r);
  exponent -= r;
  const suffix = format === 'DecimalSI' ? suffixOfExponent.get(exponent) : undefined;
  return `${sign}${n.toString()}${suffix ?? (exponent === 0 ? '' : `e${exponent.toString()}`)}`;
}
