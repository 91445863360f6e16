// The one root logger: pino, a child per component, secrets redacted wherever they might appear
// (tokens, Authorization headers, Secret data, kubeconfigs). `--logging-format=json` (the default) writes
// pino's JSON lines; `text` (the Go agent's default) writes the same records as klog-like lines
// (text-format.ts). The userinfo of any URL in a message or field is redacted (redact-url.ts).
// `--log-json-split-stream`/`--log-text-split-stream` send error and fatal lines to stderr, the rest to
// stdout; `--vmodule=pattern=N` gives matching components (the agent's equivalent of klog's files) a
// verbosity of their own.

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

/** A `--vmodule` item: components whose name matches `pattern` (`*`, `?`) log at `verbosity`. */
export interface VerbosityOverride {
  readonly pattern: string;
  readonly verbosity: number;
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
  );

/** The verbosity of a component: the first matching `--vmodule` item's, else the global one. */
export function verbosityFor(component: string, verbosity: number, vmodule: readonly VerbosityOverride[]): number {
  return vmodule.find((v) => globToRegExp(v.pattern).test(component))?.verbosity ?? verbosity;
}

/** Whether a pino JSON line is an error or worse (the split streams' rule, as klog's). */
const isErrorLine = (line: string): boolean => /"level":"(error|fatal)"/.test(line);

/** A destination that writes error and fatal lines to `errors`, the others to `out`. */
export function splitDestination(out: pino.DestinationStream, errors: pino.DestinationStream): pino.DestinationStream {
  return {
    write(line: string): void {
      (isErrorLine(line) ? errors : out).write(line);
    },
  };
}

export interface LoggerOptions {
  /** Error and fatal lines to `errorDestination` (stderr by default), the rest to the destination. */
  readonly splitStream?: boolean;
  readonly errorDestination?: pino.DestinationStream;
  readonly vmodule?: readonly VerbosityOverride[];
}

export function createRootLogger(
  verbosity: number,
  destination: pino.DestinationStream = pino.destination(1),
  format: 'json' | 'text' = 'json',
  opts: LoggerOptions = {},
): Logger {
  const formatted = (d: pino.DestinationStream): pino.DestinationStream => (format === 'text' ? textDestination(d) : d);
  const out =
    opts.splitStream === true
      ? splitDestination(formatted(destination), formatted(opts.errorDestination ?? pino.destination(2)))
      : formatted(destination);
  const vmodule = opts.vmodule ?? [];
  return pino(
    {
      name: 'clusternet-agent',
      level: levelFor(verbosity),
      ...(vmodule.length === 0
        ? {}
        : {
            onChild: (child: Logger) => {
              const component: unknown = child.bindings().component;
              if (typeof component === 'string') child.level = levelFor(verbosityFor(component, verbosity, vmodule));
            },
          }),
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
    out,
  );
}

export type { Logger };
