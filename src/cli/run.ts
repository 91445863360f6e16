// Parses the command line and runs what it asks for: help, version, or the agent.

import { startAgent } from '../agent.ts';
import { formatVersion, renderUsage } from './output.ts';
import { describeFlags, parseCommandLine } from '../config/config.ts';
import { createRootLogger } from '../logging/logger.ts';
import { versionInfo } from '../version.ts';

/** Exit code for a bad command line (as for every invalid input). */
export const exitUsage = 2;

function main(argv: readonly string[]): number | undefined {
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
    case 'run': {
      const log = createRootLogger(inv.config.logging.verbosity);
      log.info(
        { version: versionInfo(process.env).gitVersion, flags: describeFlags(argv) },
        'starting clusternet-agent',
      );
      let agent;
      try {
        agent = startAgent(inv.config, log, {
          onFatal: () => {
            log.flush();
            process.exit(1);
          },
        });
      } catch (err) {
        log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
        return 1;
      }
      let signals = 0;
      const shutdown = (sig: string): void => {
        signals += 1;
        if (signals > 1) process.exit(1); // a second signal: exit now
        log.info({ signal: sig }, 'shutting down');
        agent.stop();
        process.exitCode ??= 0;
        setImmediate(() => process.exit());
      };
      process.on('SIGTERM', () => {
        shutdown('SIGTERM');
      });
      process.on('SIGINT', () => {
        shutdown('SIGINT');
      });
      return undefined;
    }
  }
}

const code = main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
