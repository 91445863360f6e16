// The agent's tunnel alone in a process, for memory measurements: the socket machine with the real
// effects (src/tunnel/actors.ts, as src/agent.ts provides it) against `<parentUrl>`, dials allowed
// everywhere. Every 50 ms it prints one JSON line: the process's memory and the relay's accounting.
// Run with --expose-gc, SIGUSR2 asks for a full garbage collection (to tell live memory from garbage).
// CLUSTERNET_AGENT_V8_FLAGS is applied once the modules have loaded, as src/cli/run.ts does.
//
//   node [--expose-gc] test/peers/tunnel-agent.ts <parentUrl> <caFile> <token>

import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { createActor } from 'xstate';
import { applyV8Flags, parseV8Flags, v8FlagsEnv } from '../../src/cli/v8-flags.ts';
import { createSocketMachine } from '../../src/tunnel/actors.ts';
import type { StreamRelay } from '../../src/tunnel/stream-relay.ts';

export interface AgentSample {
  readonly at: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly inboundBytes: number;
  readonly streams: number;
  readonly closing: number;
  readonly sessions: number;
}

const [parentUrl = '', caFile = '', token = ''] = process.argv.slice(2);
const caPem = readFileSync(caFile, 'utf8');
const v8 = parseV8Flags(process.env[v8FlagsEnv]);
if (!v8.ok) throw new Error(v8.error);
applyV8Flags(v8.flags);
let relay: StreamRelay | undefined;
let sessions = 0;
const machine = createSocketMachine({
  log: pino({ level: 'warn' }, process.stderr),
  allowedTargets: ['*'],
  loadCredentials: () => Promise.resolve({ token, caPem }),
  onRelay: (r) => {
    relay = r;
    sessions++;
  },
});
createActor(machine, {
  input: { parentUrl, clusterId: 'tunnel-agent', childServer: 'https://127.0.0.1:1' },
}).start();
process.stdout.on('error', () => process.exit(0));
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
});
setInterval(() => {
  const m = process.memoryUsage();
  const s = relay?.stats;
  const sample: AgentSample = {
    at: Date.now(),
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    inboundBytes: s?.inboundBytes ?? 0,
    streams: s?.streams ?? 0,
    closing: s?.closing ?? 0,
    sessions,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}, 50);
