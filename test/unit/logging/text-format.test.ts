import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from '../../../src/logging/logger.ts';
import { formatTextLine } from '../../../src/logging/text-format.ts';

/** A destination that keeps what is written. */
function sink(): { stream: Writable & { write(s: string): boolean }; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== ''),
  };
}

describe('--logging-format=text: klog-like lines', () => {
  it.each<[Record<string, unknown>, string]>([
    [
      {
        level: 'info',
        time: '2026-01-02T03:04:05.678Z',
        pid: 42,
        name: 'clusternet-agent',
        component: 'registration',
        msg: 'created ClusterRegistrationRequest',
        request: 'clusternet-x',
        attempt: 2,
        ok: true,
      },
      'I0102 03:04:05.678000      42 registration] "created ClusterRegistrationRequest" request="clusternet-x" attempt=2 ok=true\n',
    ],
    [
      {
        level: 'warn',
        time: '2026-12-31T23:59:59.000Z',
        pid: 7,
        name: 'clusternet-agent',
        msg: 'cannot read "nodes"',
        err: 'x',
      },
      'W1231 23:59:59.000000       7 clusternet-agent] "cannot read \\"nodes\\"" err="x"\n',
    ],
    [
      {
        level: 'error',
        time: '2026-01-02T03:04:05.000Z',
        pid: 1,
        component: 'tunnel',
        msg: 'm',
        transition: { machine: 'socket', to: 'open' },
      },
      'E0102 03:04:05.000000       1 tunnel] "m" transition={"machine":"socket","to":"open"}\n',
    ],
    [
      { level: 'fatal', time: '2026-01-02T03:04:05.000Z', pid: 1, msg: 'x' },
      'F0102 03:04:05.000000       1 agent] "x"\n',
    ],
    [
      { level: 'debug', time: '2026-01-02T03:04:05.000Z', pid: 1, msg: 'x' },
      'I0102 03:04:05.000000       1 agent] "x"\n',
    ],
  ])('%j', (record, want) => {
    expect(formatTextLine(`${JSON.stringify(record)}\n`)).toBe(want);
  });

  it('passes a line that is not a JSON object as it is', () => {
    expect(formatTextLine('not json\n')).toBe('not json\n');
    expect(formatTextLine('[1]\n')).toBe('[1]\n');
  });

  it('the root logger writes text with the format, JSON without; secrets redacted in both', () => {
    for (const format of ['text', 'json'] as const) {
      const out = sink();
      const log = createRootLogger(2, out.stream, format).child({ component: 'registration' });
      log.info({ token: 'abcdef.0123456789abcdef', n: 1 }, 'hello');
      log.debug('not at -v=2');
      const [line, ...rest] = out.lines();
      expect(rest).toEqual([]);
      expect(line).not.toContain('0123456789abcdef');
      if (format === 'text')
        expect(line).toMatch(/^I\d{4} [\d:.]{15} +\d+ registration\] "hello" token="<redacted>" n=1$/);
      else expect(JSON.parse(line ?? '')).toMatchObject({ level: 'info', msg: 'hello', token: '<redacted>', n: 1 });
    }
  });
});
