// Reads argv the way the Go agent's flag library (pflag) does: `--name=value`, `--name value`,
// booleans as `--name` or `--name=false`, `-v 4` / `-v=4` / `-v4`, repeatable array flags, no
// positional arguments. Values are converted to the flag's type; every problem is collected.

import { isIP } from 'node:net';
import { lookupFlag, lookupShorthand, flagSpecs, type FlagSpec, type FlagValue } from './flags.ts';
import { nsToMs, parseGoDuration, parseGoDurationNs } from './go-duration.ts';

export interface ParsedArgv {
  /** Values of the flags that were given, converted to their types (durations in ms). */
  readonly given: ReadonlyMap<string, FlagValue>;
  readonly errors: readonly string[];
}

/** The items of a `a,b , c` flag value: trimmed, empty ones dropped. */
export const commaItems = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Go's strconv.ParseBool: the spellings a Go flag accepts as true or false. */
export const parseGoBool = (v: string): boolean | undefined =>
  /^(1|t|T|true|TRUE|True)$/.test(v) ? true : /^(0|f|F|false|FALSE|False)$/.test(v) ? false : undefined;

/** Converts one textual value; returns an error message (never containing a secret) on failure. */
export function convertFlagValue(spec: FlagSpec, text: string): FlagValue | { error: string } {
  const bad = (why: string): { error: string } => ({
    error:
      spec.secret === true
        ? `invalid argument for "--${spec.name}" flag: ${why}`
        : `invalid argument ${JSON.stringify(text)} for "--${spec.name}" flag: ${why}`,
  });
  switch (spec.kind) {
    case 'string':
    case 'optionalString':
      return text;
    case 'bool': {
      const b = parseGoBool(text);
      return b ?? bad('must be true or false');
    }
    case 'int':
      return /^[-+]?\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : bad('must be an integer');
    case 'float':
      return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : bad('must be a number');
    case 'duration': {
      // Go's own message, as pflag shows it: `time: invalid duration "9999999999999h"`.
      const d = parseGoDurationNs(text);
      return 'ns' in d ? nsToMs(d.ns) : bad(d.error);
    }
    case 'ip':
      return isIP(text) !== 0 ? text : bad('must be an IP address');
    case 'stringArray':
      return [text];
    case 'stringSlice':
      return text === '' ? [] : text.split(',');
  }
}

/** What one argument names: a flag (with its inline value, if any), or an error. */
type FlagArg =
  { readonly spec: FlagSpec; readonly inline: string | undefined; readonly shown: string } | { readonly error: string };

/** Reads `--name[=value]`, `-x[value]` or `-x=value`; anything else is an error. */
function readFlagArg(arg: string): FlagArg {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = lookupFlag(name);
    if (spec === undefined) return { error: `unknown flag: --${name}` };
    return { spec, inline: eq === -1 ? undefined : arg.slice(eq + 1), shown: `--${name}` };
  }
  if (arg.startsWith('-') && arg.length > 1) {
    const spec = lookupShorthand(arg[1] ?? '');
    if (spec === undefined) return { error: `unknown flag: -${arg[1] ?? ''}` };
    const rest = arg.slice(2);
    return {
      spec,
      inline: rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest,
      shown: `-${arg[1] ?? ''}`,
    };
  }
  return { error: `unknown command ${JSON.stringify(arg)} for "clusternet-agent"` };
}

export function parseArgv(argv: readonly string[]): ParsedArgv {
  const given = new Map<string, FlagValue>();
  const errors: string[] = [];
  const set = (spec: FlagSpec, text: string): void => {
    const v = convertFlagValue(spec, text);
    if (typeof v === 'object' && 'error' in v) {
      errors.push(v.error);
      return;
    }
    const prev = given.get(spec.name);
    // Array flags accumulate over occurrences; everything else: the last occurrence wins.
    given.set(spec.name, Array.isArray(prev) && Array.isArray(v) ? [...(prev as string[]), ...(v as string[])] : v);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      for (const rest of argv.slice(i + 1))
        errors.push(`unknown command ${JSON.stringify(rest)} for "clusternet-agent"`);
      break;
    }
    const flag = readFlagArg(arg);
    if ('error' in flag) {
      errors.push(flag.error);
      continue;
    }
    const { spec, inline, shown } = flag;
    if (inline !== undefined) {
      set(spec, inline);
    } else if (spec.kind === 'bool') {
      set(spec, 'true');
    } else if (spec.kind === 'optionalString') {
      set(spec, spec.noOptDefault ?? '');
    } else if (i + 1 < argv.length) {
      i += 1;
      set(spec, argv[i] ?? '');
    } else {
      errors.push(`flag needs an argument: ${shown}`);
    }
  }
  return { given, errors };
}

/** The value of a flag: as given, else its default (durations converted to ms). */
export function flagValue(parsed: ParsedArgv, name: string): FlagValue {
  const v = parsed.given.get(name);
  if (v !== undefined) return v;
  const spec = flagSpecs.find((s) => s.name === name);
  if (spec === undefined) throw new Error(`no flag --${name}`);
  return spec.kind === 'duration' ? (parseGoDuration(String(spec.default)) ?? 0) : spec.default;
}
