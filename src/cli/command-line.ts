// Parses the command line. This first cut knows only `--help` and `--version[=short|json|yaml]`
// (spelled as pflag does: `--flag`, `--flag=value`); the agent's own flags come with registration.

export type VersionFormat = 'short' | 'json' | 'yaml';

export type Invocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'version'; readonly format: VersionFormat }
  | { readonly kind: 'run' }
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

const versionFormats: readonly string[] = ['short', 'json', 'yaml'];

export function parseCommandLine(argv: readonly string[]): Invocation {
  const errors: string[] = [];
  let help = false;
  let version: VersionFormat | undefined;
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help') {
      help = true;
    } else if (arg === '--version' || arg.startsWith('--version=')) {
      const value = arg === '--version' ? 'short' : arg.slice('--version='.length);
      if (versionFormats.includes(value)) version = value as VersionFormat;
      else errors.push(`invalid argument ${JSON.stringify(value)} for "--version" flag: must be short, json or yaml`);
    } else if (arg.startsWith('-')) {
      errors.push(`unknown flag: ${arg.split('=')[0] ?? arg}`);
    } else {
      errors.push(`unexpected argument ${JSON.stringify(arg)}: clusternet-agent takes flags only`);
    }
  }
  if (errors.length > 0) return { kind: 'invalid', errors };
  if (help) return { kind: 'help' };
  if (version !== undefined) return { kind: 'version', format: version };
  return { kind: 'run' };
}
