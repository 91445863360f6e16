// Go's time.Duration text form ("3m0s", "1h30m", "500ms", "1.5s"), as the Go agent's duration flags
// accept and print it. Parsing follows time.ParseDuration step by step, in int64 nanoseconds (BigInt),
// so the same strings are accepted, the same ones refused (with Go's message), and the range ends where
// Go's does: ±2562047h47m16.854775807s (-2562047h47m16.854775808s below zero).

const nsPerUnit: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const two63 = 1n << 63n;

/** Go's time.quote: ASCII printable kept (with `"` and `\` escaped), every other byte as \xNN. */
function quote(s: string): string {
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0) ?? 0;
    if (code >= 0x80 || code < 0x20) {
      for (const b of Buffer.from(c, 'utf8')) out += `\\x${b.toString(16).padStart(2, '0')}`;
    } else {
      out += c === '"' || c === '\\' ? `\\${c}` : c;
    }
  }
  return `${out}"`;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** The result of parsing: nanoseconds, or Go's one-line error. */
export type GoDurationResult = { readonly ns: bigint } | { readonly error: string };

/** time.ParseDuration: nanoseconds (int64 range), or the error Go gives for the same text. */
// eslint-disable-next-line complexity -- a line-by-line port of Go's time.ParseDuration, kept in its shape so it can be compared with Go's source
export function parseGoDurationNs(text: string): GoDurationResult {
  const invalid = { error: `time: invalid duration ${quote(text)}` };
  let s = text;
  let neg = false;
  if (s !== '' && (s.startsWith('-') || s.startsWith('+'))) {
    neg = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return { ns: 0n };
  if (s === '') return invalid;
  let d = 0n;
  while (s !== '') {
    if (!(s.startsWith('.') || isDigit(s[0]))) return invalid;
    // leadingInt: overflow past 2^63 is an error.
    let i = 0;
    let v = 0n;
    for (; isDigit(s[i]); i++) {
      if (v > two63 / 10n) return invalid;
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > two63) return invalid;
    }
    const pre = i > 0;
    s = s.slice(i);
    // leadingFraction: digits past the precision of a uint64 are ignored, not an error.
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s.startsWith('.')) {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (two63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > two63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) return invalid;
    let k = 0;
    while (k < s.length && !(s[k] === '.' || isDigit(s[k]))) k++;
    if (k === 0) return { error: `time: missing unit in duration ${quote(text)}` };
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = nsPerUnit[u];
    if (unit === undefined) return { error: `time: unknown unit ${quote(u)} in duration ${quote(text)}` };
    if (v > two63 / unit) return invalid;
    v *= unit;
    if (f > 0n) {
      // Go: v += uint64(float64(f) * (float64(unit) / scale)), a float64 product truncated.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > two63) return invalid;
    }
    d += v;
    if (d > two63) return invalid;
  }
  if (neg) return { ns: -d };
  if (d > two63 - 1n) return invalid;
  return { ns: d };
}

/** Milliseconds (fractional below 1 ms) for a number of nanoseconds. */
export const nsToMs = (ns: bigint): number => Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;

/** Milliseconds for a Go duration string, or undefined when Go refuses it (see parseGoDurationNs). */
export function parseGoDuration(text: string): number | undefined {
  const r = parseGoDurationNs(text);
  return 'ns' in r ? nsToMs(r.ns) : undefined;
}

/** `v / 10^prec` as Go's fmtFrac writes it: ".123" without trailing zeros, nothing when it is 0. */
function fraction(v: bigint, prec: number): [string, bigint] {
  let digits = '';
  let printed = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    printed ||= digit !== 0n;
    if (printed) digits = String(digit) + digits;
    v /= 10n;
  }
  return [printed ? `.${digits}` : '', v];
}

/** Go's Duration.String for a number of nanoseconds: "3m0s", "1.5s", "500ms", "1µs", "0s". */
export function formatGoDurationNs(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const u = ns < 0n ? -ns : ns;
  if (u === 0n) return '0s';
  if (u < 1_000_000_000n) {
    const [prec, unit] = u < 1_000n ? [0, 'ns'] : u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const [frac, whole] = fraction(u, prec);
    return `${sign}${String(whole)}${frac}${unit}`;
  }
  const [frac, secs] = fraction(u, 9);
  const s = `${String(secs % 60n)}${frac}s`;
  const mins = secs / 60n;
  if (mins === 0n) return `${sign}${s}`;
  const m = `${String(mins % 60n)}m${s}`;
  const hours = mins / 60n;
  return hours === 0n ? `${sign}${m}` : `${sign}${String(hours)}h${m}`;
}

/**
 * The Go text form of a duration in milliseconds, e.g. 180000 → "3m0s", 500 → "500ms". Exact to the
 * nanosecond while the value fits a double that precisely (below about 104 days).
 */
export function formatGoDuration(ms: number): string {
  const whole = Math.trunc(ms);
  return formatGoDurationNs(BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6)));
}
