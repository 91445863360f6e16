// A real pino logger at debug whose lines a test reads back as `<level> <msg>`.

import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../src/logging/logger.ts';

export function logLines(): { readonly log: Logger; readonly lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) {
        if (l === '') continue;
        const line = JSON.parse(l) as { level: string; msg: string };
        lines.push(`${line.level} ${line.msg}`);
      }
      cb();
    },
  });
  return { log: pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, sink), lines };
}
