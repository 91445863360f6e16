// The deployer alone in its own process, for `npm run bench:deployer`: the real src/ actors, with the
// parent credentials and cluster identity handed over by the benchmark. Prints JSON lines on stdout:
// {"started":…} once, then {"rss":…,"reconciled":…,"queue":…} every 250 ms, and
// {"afterGc":{…}} on SIGUSR2 (run with --expose-gc).

import { createActor } from 'xstate';
import { createDeployerMachine } from '../../src/deployer/actors.ts';
import { createRootLogger } from '../../src/logging/logger.ts';
import type { DedicatedCredentials } from '../../src/parent/credentials-secret.ts';
import { dedicatedKubeConfig } from '../../src/parent/kube-config.ts';
import { TestEnv } from '../env/test-env.ts';
import { agentConfig } from '../integration/helpers/deployer-harness.ts';
import { createWriteStream } from 'node:fs';

interface Args {
  readonly descriptor: string;
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
  readonly systemNamespace: string;
  readonly credentials: DedicatedCredentials;
  readonly gates: string;
  readonly qps: number;
  readonly concurrency: number;
  readonly logPath: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const env = TestEnv.fromFile(args.descriptor);
const config = agentConfig(env, {
  systemNamespace: args.systemNamespace,
  syncMode: 'Pull',
  gates: args.gates,
  extraArgs: [`--kube-api-qps=${String(args.qps)}`, `--kube-api-burst=${String(Math.ceil(args.qps * 2))}`],
});
const parentUrl = env.server('parent');
const machine = createDeployerMachine({
  config,
  child: env.adminKubeConfig('child'),
  log: createRootLogger(0, createWriteStream(args.logPath)),
  parent: () =>
    Promise.resolve({
      parentUrl,
      credentials: args.credentials,
      kubeConfig: dedicatedKubeConfig(parentUrl, args.credentials),
    }),
});
const actor = createActor(machine, {
  input: {
    clusterId: args.clusterId,
    dedicatedNamespace: args.dedicatedNamespace,
    syncMode: 'Pull',
    appPusher: false,
    workers: { Description: args.concurrency },
  },
});
actor.subscribe({
  error: (err: unknown) => {
    process.stderr.write(`deployer failed: ${String(err)}\n`);
    process.exit(1);
  },
});
const line = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
line({ started: performance.now() });
actor.start();
setInterval(() => {
  const c = actor.getSnapshot().context;
  line({
    rss: process.memoryUsage().rss,
    reconciled: c.reconciled,
    queue: c.queue.pending.length + c.queue.active.length,
  });
}, 250);
// SIGUSR2: a full garbage collection, then the memory still held (what the deployer retains).
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  line({ afterGc: { rss: mem.rss, heapUsed: mem.heapUsed } });
});
process.on('SIGTERM', () => {
  actor.stop();
  process.exit(0);
});
