// `--logging-format=text`: each pino record as one klog-like line, as the Go agent prints by default:
//
//   I0102 15:04:05.123456    4321 registration] "created ClusterRegistrationRequest" request="x" n=3
//
// severity (I, W, E, F; debug and trace are klog's V-levels, so I), month and day, time in UTC with
// microseconds, pid, the component where klog has file:line, the quoted message, then every other field
// as key=value (strings quoted, objects as JSON). Redaction has happened by then: pino serialises, and
// redacts, before the destination sees the line.

import type { DestinationStream } from 'pino';

const severity: Readonly<Record<string, string>> = {
  trace: 'I',
  debug: 'I',
  info: 'I',
  warn: 'W',
  error: 'E',
  fatal: 'F',
};
const header = new Set(['level', 'time', 'pid', 'name', 'component', 'msg']);
const two = (n: number): string => String(n).padStart(2, '0');

const value = (v: unknown): string => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));

/** One pino JSON line as a text line (both end with a newline); a line that is not JSON passes as it is. */
export function formatTextLine(line: string): string {
  let r: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line;
    r = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const t = new Date(typeof r.time === 'string' || typeof r.time === 'number' ? r.time : Date.now());
  const micros = String(t.getUTCMilliseconds() * 1000).padStart(6, '0');
  const when = `${two(t.getUTCMonth() + 1)}${two(t.getUTCDate())} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())}.${micros}`;
  const level = severity[typeof r.level === 'string' ? r.level : ''] ?? 'I';
  const pid = String(typeof r.pid === 'number' ? r.pid : '').padStart(7, ' ');
  const where = typeof r.component === 'string' ? r.component : typeof r.name === 'string' ? r.name : 'agent';
  const fields = Object.entries(r)
    .filter(([k, v]) => !header.has(k) && v !== undefined)
    .map(([k, v]) => ` ${k}=${value(v)}`)
    .join('');
  return `${level}${when} ${pid} ${where}] ${JSON.stringify(typeof r.msg === 'string' ? r.msg : '')}${fields}\n`;
}

/** A destination that writes text lines to `out`; flushing (at exit) is passed on. */
export function textDestination(out: DestinationStream): DestinationStream {
  const flushable = out as DestinationStream & { flush?: (cb?: (err?: Error) => void) => void; flushSync?: () => void };
  return Object.assign(
    {
      write(line: string): void {
        out.write(formatTextLine(line));
      },
    },
    flushable.flush === undefined ? {} : { flush: (cb?: (err?: Error) => void) => flushable.flush?.(cb) },
    flushable.flushSync === undefined ? {} : { flushSync: () => flushable.flushSync?.() },
  );
}
