// test/peers/tunnel-agent.ts started in a process of its own, its memory samples collected as they come.
// `runtime: 'image'` gives it the runtime settings of docker/Dockerfile (NODE_OPTIONS, the agent's V8
// flags, glibc's malloc arenas), so its memory is the shipped agent's; 'plain' runs it with Node's defaults.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { imageRuntimeEnv } from '../env/dockerfile.ts';
import type { AgentSample } from './tunnel-agent.ts';

const agentScript = fileURLToPath(new URL('./tunnel-agent.ts', import.meta.url));

export type TunnelAgentRuntime = 'image' | 'plain';

export interface TunnelAgentProcess {
  readonly child: ChildProcessByStdio<null, Readable, null>;
  /** Every sample so far, oldest first (one each 50 ms). */
  readonly samples: readonly AgentSample[];
  readonly last: () => AgentSample | undefined;
  /** Asks for a full garbage collection (the next samples show live memory). */
  readonly collect: () => void;
  readonly stop: () => Promise<void>;
}

export function startTunnelAgent(
  parentUrl: string,
  caFile: string,
  token: string,
  runtime: TunnelAgentRuntime,
): TunnelAgentProcess {
  const child = spawn(process.execPath, ['--expose-gc', agentScript, parentUrl, caFile, token], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: runtime === 'image' ? { ...process.env, ...imageRuntimeEnv() } : process.env,
  });
  const samples: AgentSample[] = [];
  let rest = '';
  child.stdout.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) samples.push(JSON.parse(l) as AgentSample);
  });
  const exited = new Promise<void>((r) => {
    child.once('exit', () => {
      r();
    });
  });
  return {
    child,
    samples,
    last: () => samples[samples.length - 1],
    collect: () => {
      child.kill('SIGUSR2');
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
