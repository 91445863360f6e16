#!/usr/bin/env node
// clusternet-agent entry point.

import { parseCommandLine } from './config/config.ts';
import { formatVersion, renderUsage } from './cli/output.ts';
import { versionInfo } from './version.ts';

/** Exit code for a bad command line (as for every invalid input). */
export const exitUsage = 2;

function main(argv: readonly string[]): number {
  const inv = parseCommandLine(argv);
  switch (inv.kind) {
    case 'help':
      process.stdout.write(renderUsage());
      return 0;
    case 'version':
      process.stdout.write(formatVersion(versionInfo(process.env), inv.format));
      return 0;
    case 'invalid':
      for (const e of inv.errors) process.stderr.write(`clusternet-agent: ${e}\n`);
      process.stderr.write("Run 'clusternet-agent --help' for usage.\n");
      return exitUsage;
    case 'run':
      process.stderr.write('clusternet-agent: configuration is valid; the registration lifecycle is being built\n');
      return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
