import { describe, expect, it } from 'vitest';
import type { LogLine } from '../../integration/helpers/agent-process.ts';
import { ledAt, overlaps, workIntervals } from '../../integration/helpers/work-intervals.ts';

const at = (ms: number): string => new Date(ms).toISOString();
const line = (ms: number, from: string, to: string, machine = 'agent'): LogLine => ({
  time: at(ms),
  transition: { machine, from, to, event: 'x' },
});

describe('work intervals from transition logs', () => {
  const log = [
    line(1000, '', 'standby'),
    line(2000, 'standby', 'leading.registering'),
    line(2500, 'resolvingIdentity', 'registered', 'registration'),
    line(3000, 'leading.registering', 'leading.serving'),
    line(5000, 'leading.serving', 'standby'),
    line(8000, 'standby', 'leading.registering'),
  ];
  it('runs from entering leading to leaving it; an open one ends at the given time', () => {
    expect(workIntervals(log, 9000)).toEqual([
      { start: 2000, end: 5000 },
      { start: 8000, end: 9000 },
    ]);
  });
  it('finds when a process first led after a time', () => {
    expect(ledAt(log, 0)).toBe(2000);
    expect(ledAt(log, 2001)).toBe(8000);
    expect(ledAt(log, 8001)).toBeUndefined();
  });
  it('reports overlaps between processes only', () => {
    const m = new Map([
      [
        'a',
        [
          { start: 0, end: 10 },
          { start: 20, end: 30 },
        ],
      ],
      ['b', [{ start: 10, end: 20 }]],
      ['c', [{ start: 25, end: 40 }]],
    ]);
    expect(overlaps(m)).toEqual([{ a: 'a', b: 'c', ms: 5 }]);
  });
});
