// npm run bench:memory [-- --runs 3] [--idle 45] [--settle 60] [--nodes 100] [--pods-per-node 30]
//   [--node-options="--max-semi-space-size=1 ..."] [--no-burst] [--no-snapshot] [--scale] [--main dist/src/main.js]
//   [--serving=insecure|https-self-signed]
// The compiled agent's memory (`npm run build` first: it runs dist/src/main.js, as the image does), in the
// states of issue 16, against the real test clusters: the leader registered and idle (`nodes` nodes, the
// latest chart's gates SocketConnection, AppPusher, Recovery, Predictor, Dual, the tunnel up through the
// real Go remotedialer server behind the parent apiserver), a standby replica beside it (same Lease, not
// leading), the leader after a 64 MiB transfer through its tunnel once `settle` seconds have passed, and
// with `--scale` the leader at 5,000 nodes / 150,000 pods. Per state: RSS (from /proc, median of 5
// samples), CPU seconds since start, and, read through the inspector opened afterwards (SIGUSR1 with
// --inspect-port=0, so it costs nothing while measuring), V8 heap used/total, external, array buffers, and
// from a heap snapshot the largest groups of objects and the loaded sources by package. Medians over runs.
// The agents serve health and metrics over plain HTTP (`--serving=insecure`, the default, as the earlier
// figures); `--serving=https-self-signed` serves them as the chart does by default: HTTPS with a
// self-signed certificate the agent makes at start.
// The Go agent is not run: no clusternet-agent binary is built in this environment (see docs/memory.md).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { eventually } from '../env/eventually.ts';
import { freePorts } from '../env/net.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';
import { startTunnelHub } from '../peers/remotedialer/hub.ts';
import type { GoTunnelServer } from '../peers/remotedialer/peer.ts';
import { inspectProcess, type Inspection } from './memory-inspect.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    idle: { type: 'string', default: '45' },
    settle: { type: 'string', default: '60' },
    nodes: { type: 'string', default: '100' },
    'pods-per-node': { type: 'string', default: '30' },
    'node-options': { type: 'string', default: '' },
    'no-burst': { type: 'boolean', default: false },
    'no-snapshot': { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    main: { type: 'string', default: fileURLToPath(new URL('../../dist/src/main.js', import.meta.url)) },
    serving: { type: 'string', default: 'insecure' },
  },
});
const servingModes: Record<string, readonly string[] | undefined> = {
  insecure: ['--insecure-serving'],
  'https-self-signed': [],
};
const servingArgs: readonly string[] = servingModes[values.serving] ?? [];
const runs = Number(values.runs);
const idleS = Number(values.idle);
const settleS = Number(values.settle);
const nodeCount = Number(values.nodes);
const podsPerNode = Number(values['pods-per-node']);
const nodeOptions = values['node-options'].split(/\s+/).filter((s) => s !== '');
if (
  !Number.isInteger(runs) ||
  runs < 1 ||
  runs > 20 ||
  !(idleS >= 5 && idleS <= 600) ||
  !(settleS >= 0 && settleS <= 600) ||
  !Number.isInteger(nodeCount) ||
  nodeCount < 1 ||
  nodeCount > 20_000 ||
  !Number.isInteger(podsPerNode) ||
  podsPerNode < 0 ||
  podsPerNode > 110 ||
  servingModes[values.serving] === undefined
) {
  process.stderr.write(
    'usage: --runs 1..20 --idle 5..600 --settle 0..600 --nodes 1..20000 --pods-per-node 0..110 --serving insecure|https-self-signed\n',
  );
  process.exit(2);
}
const main = values.main;
if (!existsSync(main)) {
  process.stderr.write(`${main} does not exist: run \`npm run build\` first\n`);
  process.exit(2);
}
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const gates = 'SocketConnection=true,AppPusher=true,Recovery=true,Predictor=true';
const burstBytes = 64 * 1024 * 1024;

function procStatus(pid: number): { rssKiB: number; cpuS: number } {
  try {
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces, so split after it.
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    return { rssKiB: rss === null ? 0 : Number(rss[1]), cpuS: ticks / 100 };
  } catch {
    return { rssKiB: 0, cpuS: 0 };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settledRssMiB(pid: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(procStatus(pid).rssKiB / 1024);
    await sleep(200);
  }
  return median(xs);
}

/** A POST over one keep-alive pool (client-node opens a connection per request). */
async function poster(env: TestEnv): Promise<(path: string, body: unknown) => Promise<void>> {
  const opts: https.RequestOptions = {};
  await env.adminKubeConfig('child').applyToHTTPSOptions(opts);
  const agent = new https.Agent({ ...opts, keepAlive: true, maxSockets: 64 } as https.AgentOptions);
  const base = new URL(env.server('child'));
  return (path, body) =>
    new Promise<void>((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = https.request(
        new URL(path, base),
        {
          method: 'POST',
          agent,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (code === 201 || code === 409) resolve();
            else reject(new Error(`POST ${path}: ${String(code)}`));
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

async function pool(from: number, to: number, concurrency: number, work: (i: number) => Promise<unknown>) {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await work(next++);
    }),
  );
}

const nodeName = (i: number) => `mem-node-${String(i).padStart(5, '0')}`;
function node(i: number) {
  const now = new Date().toISOString();
  return {
    metadata: {
      name: nodeName(i),
      labels: { 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': `zone-${String(i % 3)}` },
    },
    status: {
      capacity: { cpu: '4', memory: '16283004Ki', pods: '110' },
      allocatable: { cpu: '3920m', memory: '15263996Ki', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'Bench', lastHeartbeatTime: now, lastTransitionTime: now }],
      nodeInfo: { kubeletVersion: 'v1.35.4', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
}
function pod(i: number) {
  return {
    metadata: { name: `mem-pod-${String(i).padStart(7, '0')}`, labels: { app: `app-${String(i % 100)}` } },
    spec: {
      nodeName: nodeName(Math.floor(i / Math.max(1, podsPerNode))),
      automountServiceAccountToken: false,
      containers: [
        { name: 'app', image: 'registry.example/app:v1', resources: { requests: { cpu: '100m', memory: '128Mi' } } },
      ],
    },
  };
}

interface Agent {
  proc: ChildProcess;
  pid: number;
  lines: Record<string, unknown>[];
  firstTransitionMs: number;
}

function startAgent(args: string[]): Agent {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...nodeOptions, '--inspect-port=127.0.0.1:0', main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const a: Agent = { proc, pid: proc.pid ?? 0, lines: [], firstTransitionMs: Number.NaN };
  for (const stream of [proc.stdout, proc.stderr]) {
    let pending = '';
    stream.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const raw of parts) {
        if (Number.isNaN(a.firstTransitionMs) && raw.includes('"transition"'))
          a.firstTransitionMs = performance.now() - t0;
        try {
          a.lines.push(JSON.parse(raw) as Record<string, unknown>);
        } catch {
          a.lines.push({ text: raw });
        }
      }
    });
  }
  return a;
}

interface Row {
  rssMiB: number;
  cpuS: number;
  inspection?: Inspection;
}
interface RunResult {
  firstTransitionMs: number;
  states: Record<string, Row>;
}

async function measure(a: Agent, snapshot: boolean): Promise<Row> {
  const rssMiB = await settledRssMiB(a.pid);
  const { cpuS } = procStatus(a.pid);
  const inspection = await inspectProcess(a.pid, a.lines, snapshot && !values['no-snapshot']);
  return { rssMiB, cpuS, inspection };
}

async function runOnce(env: TestEnv, hub: GoTunnelServer, token: string): Promise<RunResult> {
  const ns = `mem-${randomBytes(3).toString('hex')}`;
  await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  const ports = await freePorts(4);
  const args = (i: number) => [
    `--cluster-reg-parent-url=${env.server('parent')}`,
    `--cluster-reg-token=${token}`,
    `--kubeconfig=${env.adminKubeconfigPath('child')}`,
    `--leader-elect-resource-namespace=${ns}`,
    `--feature-gates=${gates}`,
    '--cluster-sync-mode=Dual',
    `--tunnel-allowed-targets=${hub.origin}`,
    '--logging-format=json',
    ...servingArgs,
    '--bind-address=127.0.0.1',
    `--secure-port=${String(ports[i] ?? 0)}`,
    `--predictor-port=${String(ports[i + 2] ?? 0)}`,
  ];
  const leader = startAgent(args(0));
  let standby: Agent | undefined;
  try {
    const registered = await eventually(
      'registration',
      () => Promise.resolve(leader.lines.find((l) => typeof l.clusterId === 'string' && l.dedicatedNamespace)),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const clusterId = String(registered.clusterId);
    await eventually('the hub sees the session', async () => ((await hub.hasSession(clusterId)) ? true : undefined), {
      timeoutMs: 60_000,
    });
    standby = startAgent(args(1));
    await sleep(idleS * 1000);
    const states: Record<string, Row> = {};
    states.standby = await measure(standby, true);
    states['registered idle'] = await measure(leader, false);
    if (!values['no-burst']) {
      const target = encodeURIComponent(`http://${hub.origin}/bytes?n=${String(burstBytes)}`);
      const res = await hub.call(`${hub.url}/bench/${clusterId}?url=${target}&n=1&c=1`, { timeoutMs: 300_000 });
      if (res.status !== 200)
        throw new Error(`64 MiB transfer: ${String(res.status)} ${res.body.toString('utf8', 0, 200)}`);
      const peak = procStatus(leader.pid).rssKiB / 1024;
      await sleep(settleS * 1000);
      states[`64 MiB through the tunnel, peak`] = { rssMiB: peak, cpuS: Number.NaN };
      states[`64 MiB through the tunnel, +${String(settleS)} s`] = await measure(leader, true);
    } else {
      states['registered idle'] = await measure(leader, true);
    }
    return { firstTransitionMs: leader.firstTransitionMs, states };
  } finally {
    leader.proc.kill('SIGKILL');
    standby?.proc.kill('SIGKILL');
  }
}

const mib = (b: number | undefined) => (b === undefined || Number.isNaN(b) ? '–' : (b / 1048576).toFixed(1));

function report(results: RunResult[], label: string): void {
  say(
    `\n${label}: medians of ${String(results.length)} runs; node options: ${nodeOptions.join(' ') || '(none)'}; serving: ${values.serving}`,
  );
  say('| state | RSS MiB | CPU s | heap used MiB | heap total MiB | external MiB | array buffers MiB |');
  say('|---|---|---|---|---|---|---|');
  const names = Object.keys(results[0]?.states ?? {});
  for (const n of names) {
    const rows = results.map((r) => r.states[n]).filter((r): r is Row => r !== undefined);
    const m = (f: (r: Row) => number | undefined) => {
      const xs = rows.map((r) => f(r) ?? Number.NaN).filter((x) => !Number.isNaN(x));
      return xs.length === 0 ? Number.NaN : median(xs);
    };
    const fix = (x: number, d: number) => (Number.isNaN(x) ? '–' : x.toFixed(d));
    say(
      `| ${n} | ${fix(
        m((r) => r.rssMiB),
        1,
      )} | ${fix(
        m((r) => r.cpuS),
        2,
      )} | ${mib(m((r) => r.inspection?.heapUsed))} | ${mib(m((r) => r.inspection?.heapTotal))} | ${mib(m((r) => r.inspection?.external))} | ${mib(m((r) => r.inspection?.arrayBuffers))} |`,
    );
  }
  say(`start-up to first transition: median ${median(results.map((r) => r.firstTransitionMs)).toFixed(0)} ms`);
  const last = results.at(-1);
  for (const [n, row] of Object.entries(last?.states ?? {})) {
    const s = row.inspection?.snapshot;
    if (s === undefined) continue;
    say(`\nheap snapshot, ${n} (last run): ${mib(s.totalBytes)} MiB in ${String(s.nodeCount)} objects`);
    say('| largest groups (type: name) | MiB | count |');
    say('|---|---|---|');
    for (const g of s.groups) say(`| ${g.key} | ${mib(g.bytes)} | ${String(g.count)} |`);
    say('| loaded code by package (sources, functions, bytecode) | MiB | scripts |');
    say('|---|---|---|');
    for (const g of s.packages) say(`| ${g.key} | ${mib(g.bytes)} | ${String(g.count)} |`);
  }
}

const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
try {
  const post = await poster(env);
  const core = env.adminClient('child', CoreV1Api);
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true, pollMs: 50 });
  approver.start();
  const hub = await startTunnelHub(env, 'v0.3.0');
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  await core.createNamespace({ body: { metadata: { name: 'mem-pods' } } });
  await eventually('the default ServiceAccount of mem-pods', () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: 'mem-pods' }),
  );
  const fill = async (nodes: number, from: number) => {
    const t = performance.now();
    await pool(from, nodes, 32, (i) => post('/api/v1/nodes', node(i)));
    await pool(from * podsPerNode, nodes * podsPerNode, 64, (i) => post('/api/v1/namespaces/mem-pods/pods', pod(i)));
    say(
      `filled ${String(nodes)} nodes, ${String(nodes * podsPerNode)} pods in ${((performance.now() - t) / 1000).toFixed(0)} s`,
    );
  };
  await fill(nodeCount, 0);
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await runOnce(env, hub, token.token);
    results.push(res);
    say(
      `run ${String(r + 1)}: ${Object.entries(res.states)
        .map(([k, v]) => `${k} ${v.rssMiB.toFixed(1)} MiB`)
        .join(', ')}; first transition ${res.firstTransitionMs.toFixed(0)} ms`,
    );
  }
  report(results, `${String(nodeCount)} nodes / ${String(nodeCount * podsPerNode)} pods`);
  if (values.scale) {
    await fill(5000, nodeCount);
    const big: RunResult[] = [];
    for (let r = 0; r < Math.min(runs, 2); r++) big.push(await runOnce(env, hub, token.token));
    report(big, '5000 nodes / 150000 pods');
  }
  await approver.stop();
  await hub.stop();
} finally {
  await sup.stop();
}
