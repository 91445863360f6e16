#!/usr/bin/env node
// clusternet-agent entry point.

import { parseCommandLine } from './cli/command-line.ts';
import { formatVersion, usage } from './cli/output.ts';
import { versionInfo } from './version.ts';

/** Exit code for a bad command line (as for every invalid input). */
export const exitUsage = 2;

function main(argv: readonly string[]): number {
  const inv = parseCommandLine(argv);
  switch (inv.kind) {
    case 'help':
      process.stdout.write(usage);
      return 0;
    case 'version':
      process.stdout.write(formatVersion(versionInfo(process.env), inv.format));
      return 0;
    case 'invalid':
      for (const e of inv.errors) process.stderr.write(`clusternet-agent: ${e}\n`);
      process.stderr.write("Run 'clusternet-agent --help' for usage.\n");
      return exitUsage;
    case 'run':
      process.stderr.write(
        'clusternet-agent: this build has no agent flags yet (registration is the next milestone); see --help\n',
      );
      return exitUsage;
  }
}

process.exitCode = main(process.argv.slice(2));
