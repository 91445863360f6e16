// vitest global setup of the integration project: one parent + child environment for the whole run.

import { rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startSupervisor } from './supervisor.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the running environment's descriptor (`env.json`). */
    testEnvDescriptor: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string): void => {
    process.stderr.write(`[test-env] ${line}\n`);
  };
  const supervisor = await startSupervisor({ log, keepRunDir: process.env.CNAT_KEEP_RUN_DIR === '1' });
  log(`environment up in ${String(supervisor.descriptor.startupMs)} ms (${supervisor.descriptorPath})`);
  // On Ctrl-C vitest exits without running teardowns: components die with this process (pdeathsig),
  // and this removes the run directory.
  if (process.env.CNAT_KEEP_RUN_DIR !== '1') {
    process.once('exit', () => {
      rmSync(supervisor.descriptor.runDir, { recursive: true, force: true });
    });
  }
  project.provide('testEnvDescriptor', supervisor.descriptorPath);
  return async () => {
    const peak = Object.values(supervisor.env.status())
      .flat()
      .map((s) => `${s.name}=${String(Math.round((s.peakRssKb ?? 0) / 1024))}MiB`)
      .join(' ');
    log(`peak RSS: ${peak}`);
    await supervisor.stop();
  };
}
