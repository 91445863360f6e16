// npm run bench:log-volume [-- --idle-minutes N --outage-minutes M]
// Log lines the agent writes at the default verbosity (-v=2), as operators run it: a registered leader
// with its tunnel up (SocketConnection, through the real parent and the Go remotedialer hub), idle for
// N minutes (default 5), then the parent apiserver stopped for M minutes (default 10) and started again.
// Prints the lines of each window (info and above: what -v=2 shows), per hour, and the messages of the
// outage with their counts. The figures go to docs/observability.md.

import { setTimeout as sleep } from 'node:timers/promises';
import { prepareParent, TestApprover } from '../approver/approver.ts';
import { eventually } from '../env/eventually.ts';
import { httpGet } from '../env/net.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';
import { AgentProcess, type LogLine } from '../integration/helpers/agent-process.ts';
import { startTunnelledAgent } from '../integration/helpers/tunnelled-agent.ts';
import { hubUnavailableReason, startTunnelHub } from '../peers/remotedialer/hub.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  const v = i === -1 ? def : Number(process.argv[i + 1]);
  if (!(v > 0 && v <= 120)) {
    process.stderr.write(`${name} takes a number of minutes from 0 to 120\n`);
    process.exit(2);
  }
  return v;
};
const idleMinutes = arg('--idle-minutes', 5);
const outageMinutes = arg('--outage-minutes', 10);

const shown = (l: LogLine): boolean => l.level !== 'debug' && l.level !== 'trace';
const perHour = (n: number, ms: number): string => ((n * 3_600_000) / ms).toFixed(1);
const summary = (ls: readonly LogLine[]): string => {
  const counts = new Map<string, number>();
  for (const l of ls) {
    const key = `${String(l.level)} ${typeof l.component === 'string' ? l.component : ''}: ${String(l.msg)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `  ${String(n).padStart(4)}  ${k}`).join('\n');
};

const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
let agent: AgentProcess | undefined;
try {
  const skip = hubUnavailableReason(env);
  if (skip !== undefined) throw new Error(`the tunnel hub is needed: ${skip}`);
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true });
  approver.start();
  const hub = await startTunnelHub(env, 'v0.3.0');
  const started = await startTunnelledAgent(env, {
    namespacePrefix: 'bench-log',
    args: ['--v=2'], // the default, said explicitly: the test helper runs agents at -v=4 otherwise
  });
  agent = started.agent;
  const { port } = started;
  const ready = async (): Promise<true | undefined> => {
    const r = await httpGet(`http://127.0.0.1:${String(port)}/readyz`, { timeoutMs: 2000 }).catch(() => undefined);
    return r?.status === 200 ? true : undefined;
  };
  await eventually('the agent ready', ready, { timeoutMs: 180_000 });
  const startup = agent.lines.filter(shown).length;
  await sleep(10_000);

  const idleFrom = agent.lines.length;
  const idleStart = performance.now();
  await sleep(idleMinutes * 60_000);
  const idleMs = performance.now() - idleStart;
  const idle = agent.lines.slice(idleFrom).filter(shown);

  const outageFrom = agent.lines.length;
  const outageStart = performance.now();
  await env.component('parent', 'kube-apiserver').stop();
  try {
    await sleep(outageMinutes * 60_000);
  } finally {
    await env.component('parent', 'kube-apiserver').start();
  }
  await eventually('the agent ready again', ready, { timeoutMs: 300_000 });
  const recoveredMs = performance.now() - outageStart - outageMinutes * 60_000;
  await sleep(10_000);
  const outageMs = performance.now() - outageStart;
  const outage = agent.lines.slice(outageFrom).filter(shown);

  process.stdout.write(`\nlog lines at -v=2 (info and above), JSON format\n`);
  process.stdout.write(`start-up to ready: ${String(startup)} lines\n`);
  process.stdout.write(
    `idle leader, tunnel up, ${(idleMs / 60_000).toFixed(1)} min: ${String(idle.length)} lines = ${perHour(idle.length, idleMs)} lines/hour\n`,
  );
  if (idle.length > 0) process.stdout.write(`${summary(idle)}\n`);
  process.stdout.write(
    `parent apiserver down ${String(outageMinutes)} min (+ ${(recoveredMs / 1000).toFixed(0)} s to ready, + 10 s): ${String(outage.length)} lines = ${perHour(outage.length, outageMs)} lines/hour\n`,
  );
  process.stdout.write(`${summary(outage)}\n`);
  await hub.stop();
  await approver.stop();
} finally {
  await agent?.stop();
  await sup.stop();
}
