// Runs the environment for as long as this process lives: starts both clusters, serves the control
// endpoint and writes the descriptor (`env.json` in the run directory). Used by the vitest global
// setup (in-process) and by `npm run env:up` (as a detached process).

import { join } from 'node:path';
import { serveControl } from './control.ts';
import { Environment, writeFileAtomic, type EnvDescriptor } from './environment.ts';

export interface Supervisor {
  readonly env: Environment;
  readonly descriptor: EnvDescriptor;
  readonly descriptorPath: string;
  /** Resolves when a shutdown was requested through the control endpoint. */
  readonly shutdownRequested: Promise<void>;
  stop(): Promise<void>;
}

export async function startSupervisor(
  opts: { log?: (line: string) => void; keepRunDir?: boolean } = {},
): Promise<Supervisor> {
  const env = await Environment.start(opts);
  let requestShutdown = (): void => undefined;
  const shutdownRequested = new Promise<void>((resolve) => {
    requestShutdown = resolve;
  });
  const control = await serveControl(env, () => {
    requestShutdown();
  });
  const descriptor: EnvDescriptor = {
    runDir: env.runDir,
    kubernetesVersion: env.clusters.parent.info.kubernetesVersion,
    netns: env.netns,
    clusters: { parent: env.clusters.parent.info, child: env.clusters.child.info },
    control: { url: control.url, token: control.token },
    supervisorPid: process.pid,
    startupMs: env.startupMs,
  };
  const descriptorPath = join(env.runDir, 'env.json');
  await writeFileAtomic(descriptorPath, `${JSON.stringify(descriptor, null, 2)}\n`);
  let stopping: Promise<void> | undefined;
  return {
    env,
    descriptor,
    descriptorPath,
    shutdownRequested,
    stop: () =>
      (stopping ??= (async () => {
        await control.close();
        await env.stop();
      })()),
  };
}
