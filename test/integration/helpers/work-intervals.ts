// Work intervals of agent processes, read from their transition logs: a process works from the moment
// its agent machine enters `leading` until it leaves it (or until it was killed). Used to check that no
// two processes ever work at once.

import type { LogLine } from './agent-process.ts';

export interface WorkInterval {
  readonly start: number;
  /** Epoch ms; for a process killed while leading, the time of the kill. */
  readonly end: number;
}

const leading = (state: string): boolean => state.startsWith('leading');

/** The work intervals in one process's log; an interval still open ends at `openEnd`. */
export function workIntervals(lines: readonly LogLine[], openEnd: number): WorkInterval[] {
  const out: WorkInterval[] = [];
  let start: number | undefined;
  for (const l of lines) {
    const t = l.transition;
    if (t?.machine !== 'agent' || typeof l.time !== 'string') continue;
    const at = Date.parse(l.time);
    if (leading(t.to) && !leading(t.from)) start = at;
    if (!leading(t.to) && leading(t.from) && start !== undefined) {
      out.push({ start, end: at });
      start = undefined;
    }
  }
  if (start !== undefined) out.push({ start, end: openEnd });
  return out;
}

export interface Overlap {
  readonly a: string;
  readonly b: string;
  readonly ms: number;
}

/** Every overlap between intervals of different processes. */
export function overlaps(byProcess: ReadonlyMap<string, readonly WorkInterval[]>): Overlap[] {
  const found: Overlap[] = [];
  const entries = [...byProcess.entries()];
  for (const [i, [a, as]] of entries.entries()) {
    for (const [b, bs] of entries.slice(i + 1)) {
      for (const x of as) {
        for (const y of bs) {
          const ms = Math.min(x.end, y.end) - Math.max(x.start, y.start);
          if (ms > 0) found.push({ a, b, ms });
        }
      }
    }
  }
  return found;
}

/** When a process first entered `leading` at or after `after` (epoch ms), if it did. */
export function ledAt(lines: readonly LogLine[], after: number): number | undefined {
  for (const l of lines) {
    const t = l.transition;
    if (t?.machine !== 'agent' || typeof l.time !== 'string') continue;
    const at = Date.parse(l.time);
    if (at >= after && leading(t.to) && !leading(t.from)) return at;
  }
  return undefined;
}
