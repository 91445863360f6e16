// Go's time.Duration text form ("3m0s", "1h30m", "500ms", "1.5s"), as the Go agent's duration flags
// accept and print it.

const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds for a Go duration string, or undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(text);
  if (m === null) return text === '0' ? 0 : undefined;
  let total = 0;
  for (const part of text.slice(m[1]?.length ?? 0).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (unitMs[part[2] ?? ''] ?? NaN);
  }
  return m[1] === '-' ? -total : total;
}

/** The Go text form of a duration in milliseconds, e.g. 180000 → "3m0s", 500 → "500ms". */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${String(rest)}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = `${String(Number((rest / 1000).toFixed(9)))}s`;
  if (h > 0) return `${sign}${String(h)}h${String(m)}m${s}`;
  if (m > 0) return `${sign}${String(m)}m${s}`;
  return `${sign}${s}`;
}
