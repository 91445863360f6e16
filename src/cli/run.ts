// Parses the command line and runs what it asks for: help, version, or the agent.

import { fromEvent, map, merge, take } from 'rxjs';
import type { RunningAgent } from '../agent.ts';
import type { AgentConfig } from '../config/config.ts';
import { AgentMetrics } from '../observability/metrics.ts';
import { startHealthServer, type HealthServer } from '../observability/server.ts';
import { formatVersion, renderUsage } from './output.ts';
import { describeFlags, parseCommandLine } from '../config/config.ts';
import { createRootLogger } from '../logging/logger.ts';
import { redactUrls } from '../logging/redact-url.ts';
import { versionInfo } from '../version.ts';
import { applyV8Flags, parseV8Flags, v8FlagsEnv } from './v8-flags.ts';

/** Exit code for a bad command line: 1, as the Go agent (spec §9.3), so supervisors see the same. */
export const exitUsage = 1;

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
      for (const e of inv.errors) process.stderr.write(`clusternet-agent: ${redactUrls(e)}\n`);
      process.stderr.write("Run 'clusternet-agent --help' for usage.\n");
      return exitUsage;
    case 'run': {
      const v8 = parseV8Flags(process.env[v8FlagsEnv]);
      if (!v8.ok) {
        process.stderr.write(`clusternet-agent: ${v8.error}\n`);
        return exitUsage;
      }
      run(inv.config, argv, inv.warnings, v8.flags).catch((err: unknown) => {
        process.stderr.write(
          `clusternet-agent: ${redactUrls(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`,
        );
        process.exit(1);
      });
      return undefined;
    }
  }
}

/**
 * Runs the agent until it stops. The first SIGTERM/SIGINT stops the work (the deployer drains: its helm
 * runs exit, within the root machine's drainDeadline) and releases the Lease, then exits 0; a second
 * signal exits 1 at once (spec §9.3). An unexpected failure exits 1.
 */
async function run(
  config: AgentConfig,
  argv: readonly string[],
  warnings: readonly string[],
  v8Flags: readonly string[],
): Promise<void> {
  const log = createRootLogger(config.logging.verbosity, undefined, config.logging.format, {
    splitStream: config.logging.splitStream,
    vmodule: config.logging.vmodule,
  });
  log.info({ version: versionInfo(process.env).gitVersion, flags: describeFlags(argv) }, 'starting clusternet-agent');
  for (const w of warnings) log.warn(w);
  const exit = (code: number): never => {
    log.flush();
    process.exit(code);
  };
  const metrics = new AgentMetrics({ leaseName: config.leaderElection.leaseName });
  for (const name of metrics.disable(config.metrics.disabled)) log.warn(`--disabled-metrics: no metric ${name}`);
  let agent: RunningAgent | undefined;
  // Every replica serves health and metrics. It starts first: a port that cannot be bound ends the
  // process before it campaigns, never while it holds the Lease. The agent's modules load meanwhile:
  // a self-signed certificate is made in a process of its own (on the other core), so the two overlap.
  const serving =
    config.serving.securePort === 0
      ? undefined
      : startHealthServer({
          serving: config.serving,
          profiling: config.profiling.enabled,
          metrics,
          readiness: () => agent?.readiness() ?? { ready: false, reasons: ['starting'] },
          log: log.child({ component: 'health' }),
        });
  const agentModule = import('../agent.ts');
  let health: HealthServer | undefined;
  try {
    health = await serving;
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot serve health and metrics');
    exit(1);
  }
  const { startAgent } = await agentModule;
  // The modules have loaded: the V8 flags for the agent's run (src/cli/v8-flags.ts).
  applyV8Flags(v8Flags);
  if (v8Flags.length > 0) log.debug({ v8Flags }, `set ${v8FlagsEnv}`);
  let running: RunningAgent;
  try {
    running = startAgent(config, log, { metrics });
    agent = running;
  } catch (err) {
    // One line that says what to do (e.g. "no in-cluster configuration …: pass --kubeconfig").
    log.fatal(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    exit(1);
    return;
  }
  // rxjs at the edge: process signals.
  let stopping = false;
  merge(
    fromEvent(process, 'SIGTERM').pipe(map(() => 'SIGTERM')),
    fromEvent(process, 'SIGINT').pipe(map(() => 'SIGINT')),
  )
    .pipe(take(2))
    .subscribe((signal) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down: draining the deployer, stopping work, releasing the Lease');
      running.stop();
    });
  void running.exited.then(async ({ code }) => {
    // The deployer drained before the Lease was released (the root machine's `serving.draining`).
    await health?.close();
    exit(code);
  });
}

const code = main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
