// The one root logger: pino, a child per component, secrets redacted wherever they might appear
// (tokens, Authorization headers, Secret data, kubeconfigs). `--logging-format=json` (the default) writes
// pino's JSON lines; `text` (the Go agent's default) writes the same records as klog-like lines
// (text-format.ts). The userinfo of any URL in a message or field is redacted (redact-url.ts).

import { pino, type Logger } from 'pino';
import { redactUrlsIn } from './redact-url.ts';
import { textDestination } from './text-format.ts';

export const redactPaths = [
  'token',
  '*.token',
  'caData',
  '*.caData',
  'headers.authorization',
  '*.headers.authorization',
  'data',
  '*.data',
  'stringData',
  '*.stringData',
  'kubeconfig',
  '*.kubeconfig',
];

/** Verbosity as the Go agent's -v: 4 and above is debug, 6 and above trace. */
export function levelFor(verbosity: number): pino.Level {
  return verbosity >= 6 ? 'trace' : verbosity >= 4 ? 'debug' : 'info';
}

export function createRootLogger(
  verbosity: number,
  destination: pino.DestinationStream = pino.destination(1),
  format: 'json' | 'text' = 'json',
): Logger {
  return pino(
    {
      name: 'clusternet-agent',
      level: levelFor(verbosity),
      redact: { paths: redactPaths, censor: '<redacted>' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => redactUrlsIn(a)) as Parameters<typeof method>);
        },
      },
    },
    format === 'text' ? textDestination(destination) : destination,
  );
}

export type { Logger };
