// npm run bench:memory [-- --runs 3] [--idle 45] [--settle 60] [--nodes 100] [--pods-per-node 30]
//   [--node-options="--max-semi-space-size=1 ..."] [--no-burst] [--no-rollout] [--descriptions 500] [--no-snapshot]
//   [--scale] [--scale-nodes 5000] [--scale-runs 1] [--main dist/src/main.js] [--compare <other main.js> ...]
//   [--serving=insecure|https-self-signed] [--runtime image|plain]
// The compiled agent's memory (`npm run build` first: it runs dist/src/main.js, as the image does), in the
// states of issue 16, against the real test clusters: the leader registered and idle (`nodes` nodes, the
// latest chart's gates SocketConnection, AppPusher, Recovery, Predictor, Dual, the tunnel up through the
// real Go remotedialer server behind the parent apiserver), a standby replica beside it (same Lease, not
// leading), and the bursts: a 64 MiB transfer through the leader's tunnel, a rollout of `descriptions`
// Descriptions (5 objects each) in its dedicated namespace, and with `--scale` the leader at 5,000 nodes /
// 150,000 pods (after its first heartbeat there, `settle` seconds later, and every node changing readiness
// at once). Per burst: the leader's RSS idle before, its peak (sampled every 100 ms), `settle` seconds
// after, and the ratio of that to idle. Per state: RSS (from /proc, median of 5
// samples), CPU seconds since start, and, read through the inspector opened afterwards (SIGUSR1 with
// --inspect-port=0, so it costs nothing while measuring), V8 heap used/total, external, array buffers, and
// from a heap snapshot the largest groups of objects, the loaded sources by package and the strings by
// what retains them. Medians over runs. `--compare` (repeatable) runs other builds too, each in turn at
// every level, on the same filled cluster (a fill at scale takes minutes), each with its own table; an
// entry is a main.js, optionally followed by V8 flags for that build only (`'dist/src/main.js --flag'`).
// The agents serve health and metrics over plain HTTP (`--serving=insecure`, the default, as the earlier
// figures); `--serving=https-self-signed` serves them as the chart does by default: HTTPS with a
// self-signed certificate the agent makes at start.
// `--runtime image` (the default) gives the agents the runtime settings of docker/Dockerfile (NODE_OPTIONS,
// CLUSTERNET_AGENT_V8_FLAGS, MALLOC_ARENA_MAX: test/env/dockerfile.ts), as the image runs them; `plain`
// runs them with Node's defaults (the earlier tables of docs/memory.md, each naming its --node-options).
// The Go agent is not run: no clusternet-agent binary is built in this environment (see docs/memory.md).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as https from 'node:https';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { imageRuntimeEnv } from '../env/dockerfile.ts';
import { entryPoint, requireBuilt, type EntryPoint } from './entry-point.ts';
import { eventually } from '../env/eventually.ts';
import { freePorts } from '../env/net.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';
import { startTunnelHub } from '../peers/remotedialer/hub.ts';
import { description, installAppDeployer } from '../integration/helpers/deployer-harness.ts';
import type { GoTunnelServer } from '../peers/remotedialer/peer.ts';
import { rolloutObjects } from './rollout-objects.ts';
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
    'no-rollout': { type: 'boolean', default: false },
    descriptions: { type: 'string', default: '500' },
    'no-snapshot': { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    'scale-nodes': { type: 'string', default: '5000' },
    'scale-runs': { type: 'string', default: '1' },
    main: { type: 'string', default: fileURLToPath(new URL('../../dist/src/main.js', import.meta.url)) },
    compare: { type: 'string', multiple: true, default: [] },
    serving: { type: 'string', default: 'insecure' },
    runtime: { type: 'string', default: 'image' },
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
const descriptionCount = Number(values.descriptions);
const scaleNodes = Number(values['scale-nodes']);
const scaleRuns = Number(values['scale-runs']);
const nodeOptions = values['node-options'].split(/\s+/).filter((s) => s !== '');
/** The agents' environment: the image's runtime settings, or Node's defaults. */
const agentEnv = values.runtime === 'image' ? { ...process.env, ...imageRuntimeEnv() } : process.env;
if (
  !Number.isInteger(runs) ||
  runs < 0 ||
  runs > 20 ||
  !(idleS >= 5 && idleS <= 600) ||
  !(settleS >= 0 && settleS <= 600) ||
  !Number.isInteger(nodeCount) ||
  nodeCount < 1 ||
  nodeCount > 20_000 ||
  !Number.isInteger(podsPerNode) ||
  podsPerNode < 0 ||
  podsPerNode > 110 ||
  servingModes[values.serving] === undefined ||
  (values.runtime !== 'image' && values.runtime !== 'plain') ||
  !Number.isInteger(descriptionCount) ||
  descriptionCount < 1 ||
  descriptionCount > 5000 ||
  !Number.isInteger(scaleNodes) ||
  scaleNodes <= nodeCount ||
  scaleNodes > 20_000 ||
  !Number.isInteger(scaleRuns) ||
  scaleRuns < 1 ||
  scaleRuns > 20
) {
  process.stderr.write(
    'usage: --runs 0..20 --idle 5..600 --settle 0..600 --nodes 1..20000 --pods-per-node 0..110 --descriptions 1..5000\n' +
      '  --scale-nodes (--nodes)..20000 --scale-runs 1..20 --serving insecure|https-self-signed --runtime image|plain\n',
  );
  process.exit(2);
}
const builds = [values.main, ...values.compare].map(entryPoint);
requireBuilt(builds, 'run `npm run build` first');
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
/** The latest chart's gates; the rollout pass turns AppPusher off, so that in Dual mode the agent deploys (spec §1.5). */
const gatesOf = (appPusher: boolean) =>
  `SocketConnection=true,AppPusher=${String(appPusher)},Recovery=true,Predictor=true`;
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

type Send = (method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) => Promise<void>;

/**
 * Requests to a cluster over one keep-alive pool (client-node opens a connection per request): POST
 * (201, or 409 when it exists), a merge PATCH (200), DELETE (200/202, or 404 when it is gone).
 */
async function requester(env: TestEnv, cluster: 'child' | 'parent'): Promise<Send> {
  const opts: https.RequestOptions = {};
  await env.adminKubeConfig(cluster).applyToHTTPSOptions(opts);
  const agent = new https.Agent({ ...opts, keepAlive: true, maxSockets: 64 } as https.AgentOptions);
  const base = new URL(env.server(cluster));
  const ok = { POST: [201, 409], PATCH: [200], DELETE: [200, 202, 404] };
  const type = { POST: 'application/json', PATCH: 'application/merge-patch+json', DELETE: 'application/json' };
  return (method, path, body) =>
    new Promise<void>((resolve, reject) => {
      const data = body === undefined ? '' : JSON.stringify(body);
      const req = https.request(
        new URL(path, base),
        {
          method,
          agent,
          headers: { 'Content-Type': type[method], 'Content-Length': Buffer.byteLength(data) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (ok[method].includes(code)) resolve();
            else reject(new Error(`${method} ${path}: ${String(code)}`));
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

/** The largest RSS of a process since the last reset, sampled every 100 ms from /proc. */
function peakSampler(pid: number): { reset(): void; peakMiB(): number; stop(): void } {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, procStatus(pid).rssKiB / 1024);
  };
  const timer = setInterval(sample, 100);
  return {
    reset: () => {
      peak = 0;
      sample();
    },
    peakMiB: () => {
      sample();
      return peak;
    },
    stop: () => {
      clearInterval(timer);
    },
  };
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

function startAgent(build: EntryPoint, args: string[]): Agent {
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [...nodeOptions, ...build.nodeFlags, '--inspect-port=127.0.0.1:0', build.main, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnv },
  );
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
/** A burst: the leader's RSS idle before it, its peak, `settle` seconds after. */
interface BurstRow {
  idleMiB: number;
  peakMiB: number;
  afterMiB: number;
}
interface RunResult {
  firstTransitionMs: number;
  states: Record<string, Row>;
  bursts: Record<string, BurstRow>;
}

async function measure(a: Agent, snapshot: boolean): Promise<Row> {
  const rssMiB = await settledRssMiB(a.pid);
  const { cpuS } = procStatus(a.pid);
  const inspection = await inspectProcess(a.pid, a.lines, snapshot && !values['no-snapshot']);
  return { rssMiB, cpuS, inspection };
}

interface Ctx {
  env: TestEnv;
  hub: GoTunnelServer;
  token: string;
  /** Requests to the child and to the parent over keep-alive pools. */
  child: Send;
  parent: Send;
  /** The child's node count for this level. */
  nodes: number;
  /** `base`: the chart's gates, standby, idle and the tunnel transfer; `rollout`: AppPusher off, the rollout; `scale`. */
  pass: 'base' | 'rollout' | 'scale';
  /** The build: its dist/src/main.js and node flags of its own. */
  build: EntryPoint;
}
interface Registered {
  clusterId: string;
  dedicatedNamespace: string;
  /** Wall-clock ms when the leader started. */
  startedAt: number;
}

const clusters = { group: 'clusters.clusternet.io', version: 'v1beta1', plural: 'managedclusters' };
const descriptions = { group: 'apps.clusternet.io', version: 'v1alpha1', plural: 'descriptions' };

interface ReportedStatus {
  lastObservedTime?: string;
  nodeStatistics?: { readyNodes?: number; notReadyNodes?: number };
}
/** Resolves once the leader's heartbeat has reported (since `since`) a status `ok` accepts. */
async function reported(ctx: Ctx, reg: Registered, since: number, ok: (s: ReportedStatus) => boolean, what: string) {
  const api = ctx.env.adminClient('parent', CustomObjectsApi);
  await eventually(
    what,
    async () => {
      const list = (await api.listNamespacedCustomObject({ ...clusters, namespace: reg.dedicatedNamespace })) as {
        items: { status?: ReportedStatus }[];
      };
      const st = list.items[0]?.status;
      return st !== undefined && Date.parse(st.lastObservedTime ?? '') >= since - 1000 && ok(st) ? true : undefined;
    },
    { timeoutMs: 900_000, intervalMs: 500 },
  );
}

/** Writes `descriptionCount` Descriptions into the dedicated namespace; resolves when every one reports Success. */
async function rollout(ctx: Ctx, reg: Registered, appNs: string): Promise<void> {
  await ctx.child('POST', '/api/v1/namespaces', { metadata: { name: appNs } });
  const path = `/apis/${descriptions.group}/${descriptions.version}/namespaces/${reg.dedicatedNamespace}/descriptions`;
  await pool(0, descriptionCount, 16, (i) =>
    ctx.parent('POST', path, description(reg.dedicatedNamespace, `mem-d${String(i)}`, rolloutObjects(appNs, i))),
  );
  const api = ctx.env.adminClient('parent', CustomObjectsApi);
  await eventually(
    `${String(descriptionCount)} Descriptions Success`,
    async () => {
      const list = (await api.listNamespacedCustomObject({ ...descriptions, namespace: reg.dedicatedNamespace })) as {
        items: { status?: { phase?: string } }[];
      };
      return list.items.filter((d) => d.status?.phase === 'Success').length >= descriptionCount ? true : undefined;
    },
    { timeoutMs: 600_000, intervalMs: 1000 },
  );
}

/** After the agents are gone: the Descriptions without their finalizer, deleted; the applied objects' namespace deleted. */
async function cleanUpRollout(ctx: Ctx, reg: Registered, appNs: string): Promise<void> {
  const path = `/apis/${descriptions.group}/${descriptions.version}/namespaces/${reg.dedicatedNamespace}/descriptions`;
  await pool(0, descriptionCount, 16, async (i) => {
    await ctx.parent('PATCH', `${path}/mem-d${String(i)}`, { metadata: { finalizers: null } }).catch(() => undefined);
    await ctx.parent('DELETE', `${path}/mem-d${String(i)}`);
  });
  await ctx.child('DELETE', `/api/v1/namespaces/${appNs}`);
}

/** Sets every node's Ready condition to `status` (one status PATCH each). */
async function setReadiness(ctx: Ctx, status: 'True' | 'False'): Promise<void> {
  const now = new Date().toISOString();
  const body = {
    status: {
      conditions: [{ type: 'Ready', status, reason: 'Bench', lastHeartbeatTime: now, lastTransitionTime: now }],
    },
  };
  await pool(0, ctx.nodes, 32, (i) => ctx.child('PATCH', `/api/v1/nodes/${nodeName(i)}/status`, body));
}

type Burst = (reg: Registered) => Promise<void>;

function bursts(ctx: Ctx, appNs: string): Record<string, Burst> {
  const out: Record<string, Burst> = {};
  if (values['no-burst']) return out;
  if (ctx.pass === 'rollout') {
    out[`${String(descriptionCount)}-Description rollout`] = (reg) => rollout(ctx, reg, appNs);
    return out;
  }
  if (ctx.pass === 'scale') {
    // Every node becomes NotReady at once: the heartbeat's node watch gets `nodes` events and reports.
    out[`${String(ctx.nodes)} nodes change readiness (a heartbeat at ${String(ctx.nodes)} nodes)`] = async (reg) => {
      const since = Date.now();
      await setReadiness(ctx, 'False');
      await reported(ctx, reg, since, (st) => st.nodeStatistics?.notReadyNodes === ctx.nodes, 'NotReady reported');
    };
    return out;
  }
  out['64 MiB through the tunnel'] = async (reg) => {
    const target = encodeURIComponent(`http://${ctx.hub.origin}/bytes?n=${String(burstBytes)}`);
    const res = await ctx.hub.call(`${ctx.hub.url}/bench/${reg.clusterId}?url=${target}&n=1&c=1`, {
      timeoutMs: 300_000,
    });
    if (res.status !== 200)
      throw new Error(`64 MiB transfer: ${String(res.status)} ${res.body.toString('utf8', 0, 200)}`);
  };
  return out;
}

/** At scale: the leader's first heartbeat with every node counted, and the predictor's pods listed. */
async function firstHeartbeat(ctx: Ctx, leader: Agent, reg: Registered): Promise<void> {
  await reported(ctx, reg, reg.startedAt, (st) => st.nodeStatistics?.readyNodes === ctx.nodes, 'first heartbeat');
  await eventually(
    'the predictor has listed the pods',
    () =>
      Promise.resolve(
        leader.lines.some((l) => String(l.msg).startsWith('listed the pods of the child cluster')) ? true : undefined,
      ),
    { timeoutMs: 900_000, intervalMs: 200 },
  );
}

async function runOnce(ctx: Ctx): Promise<RunResult> {
  const { env, hub, token } = ctx;
  const ns = `mem-${randomBytes(3).toString('hex')}`;
  // The Lease namespace is the system namespace, where the app deployer's identity lives (the chart installs it).
  await installAppDeployer(env.adminKubeConfig('child'), ns);
  const appNs = `${ns}-apps`;
  const ports = await freePorts(4);
  const args = (i: number) => [
    `--cluster-reg-parent-url=${env.server('parent')}`,
    `--cluster-reg-token=${token}`,
    `--kubeconfig=${env.adminKubeconfigPath('child')}`,
    `--leader-elect-resource-namespace=${ns}`,
    `--feature-gates=${gatesOf(ctx.pass !== 'rollout')}`,
    '--cluster-sync-mode=Dual',
    `--tunnel-allowed-targets=${hub.origin}`,
    '--logging-format=json',
    ...servingArgs,
    '--bind-address=127.0.0.1',
    `--secure-port=${String(ports[i] ?? 0)}`,
    `--predictor-port=${String(ports[i + 2] ?? 0)}`,
  ];
  const startedAt = Date.now();
  const leader = startAgent(ctx.build, args(0));
  const sampler = peakSampler(leader.pid);
  let standby: Agent | undefined;
  let reg: Registered | undefined;
  const plan = bursts(ctx, appNs);
  try {
    const registered = await eventually(
      'registration',
      () => Promise.resolve(leader.lines.find((l) => typeof l.clusterId === 'string' && l.dedicatedNamespace)),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    reg = {
      clusterId: String(registered.clusterId),
      dedicatedNamespace: String(registered.dedicatedNamespace),
      startedAt,
    };
    const clusterId = reg.clusterId;
    await eventually('the hub sees the session', async () => ((await hub.hasSession(clusterId)) ? true : undefined), {
      timeoutMs: 60_000,
    });
    const states: Record<string, Row> = {};
    if (ctx.pass === 'scale') {
      await firstHeartbeat(ctx, leader, reg);
      states['start-up to the first heartbeat, peak'] = { rssMiB: sampler.peakMiB(), cpuS: Number.NaN };
      states['after the first heartbeat'] = await measure(leader, false);
    }
    if (ctx.pass !== 'rollout') standby = startAgent(ctx.build, args(1));
    await sleep((ctx.pass === 'scale' ? Math.max(idleS, settleS) : idleS) * 1000);
    if (standby !== undefined) states.standby = await measure(standby, true);
    const names = Object.keys(plan);
    const idleName =
      ctx.pass === 'scale' ? `registered idle (+${String(Math.max(idleS, settleS))} s)` : 'registered idle';
    states[idleName] = await measure(leader, names.length === 0);
    const burstRows: Record<string, BurstRow> = {};
    for (const [k, name] of names.entries()) {
      const idleMiB = await settledRssMiB(leader.pid);
      sampler.reset();
      await plan[name]?.(reg);
      const peakMiB = sampler.peakMiB();
      await sleep(settleS * 1000);
      const after = await measure(leader, k === names.length - 1);
      states[`${name}, peak`] = { rssMiB: peakMiB, cpuS: Number.NaN };
      states[`${name}, +${String(settleS)} s`] = after;
      burstRows[name] = { idleMiB, peakMiB, afterMiB: after.rssMiB };
    }
    return { firstTransitionMs: leader.firstTransitionMs, states, bursts: burstRows };
  } finally {
    sampler.stop();
    leader.proc.kill('SIGKILL');
    standby?.proc.kill('SIGKILL');
    const logPath = join(tmpdir(), `bench-memory-${ns}-leader.log`);
    writeFileSync(logPath, leader.lines.map((l) => JSON.stringify(l)).join('\n'));
    say(`(${ctx.pass} pass: the leader's log is ${logPath})`);
    if (reg !== undefined && Object.keys(plan).some((n) => n.includes('rollout')))
      await cleanUpRollout(ctx, reg, appNs);
    if (ctx.pass === 'scale' && !values['no-burst']) await setReadiness(ctx, 'True');
  }
}

const mib = (b: number | undefined) => (b === undefined || Number.isNaN(b) ? '–' : (b / 1048576).toFixed(1));

function report(results: RunResult[], label: string): void {
  say(
    `\n${label}: medians of ${String(results.length)} runs; runtime: ${values.runtime}; node options: ${nodeOptions.join(' ') || '(none)'}; serving: ${values.serving}`,
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
  const bursts = Object.keys(results[0]?.bursts ?? {});
  if (bursts.length > 0) {
    say(`\nbursts (the leader; medians; the goal: +${String(settleS)} s within 10 % of idle before)`);
    say(`| burst | idle before MiB | peak MiB | +${String(settleS)} s MiB | +${String(settleS)} s / idle |`);
    say('|---|---|---|---|---|');
    for (const b of bursts) {
      const rows = results.map((r) => r.bursts[b]).filter((r): r is BurstRow => r !== undefined);
      const m = (f: (r: BurstRow) => number) => median(rows.map(f));
      say(
        `| ${b} | ${m((r) => r.idleMiB).toFixed(1)} | ${m((r) => r.peakMiB).toFixed(1)} | ${m((r) => r.afterMiB).toFixed(1)} | ${m((r) => r.afterMiB / r.idleMiB).toFixed(3)} |`,
      );
    }
  }
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
    say('| strings by retainer (retainer .edge <- its retainer .edge <- …) | MiB | count |');
    say('|---|---|---|');
    for (const g of s.stringRetainers)
      say(`| ${g.key.replaceAll('|', '\\|')} | ${mib(g.bytes)} | ${String(g.count)} |`);
  }
}

const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
try {
  const child = await requester(env, 'child');
  const parent = await requester(env, 'parent');
  const core = env.adminClient('child', CoreV1Api);
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true, pollMs: 250 });
  approver.start();
  const hub = await startTunnelHub(env, 'v0.3.0');
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  await core.createNamespace({ body: { metadata: { name: 'mem-pods' } } });
  await eventually('the default ServiceAccount of mem-pods', () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: 'mem-pods' }),
  );
  // The nodes and pods stay for every run of an invocation (a level adds to the one before); the
  // environment, its etcd data included, is removed when the bench ends.
  const fill = async (nodes: number, from: number) => {
    const t = performance.now();
    await pool(from, nodes, 32, (i) => child('POST', '/api/v1/nodes', node(i)));
    const tn = performance.now();
    await pool(from * podsPerNode, nodes * podsPerNode, 48, (i) =>
      child('POST', '/api/v1/namespaces/mem-pods/pods', pod(i)),
    );
    const s = (a: number, b: number) => ((b - a) / 1000).toFixed(0);
    const tp = performance.now();
    say(
      `filled ${String(nodes)} nodes, ${String(nodes * podsPerNode)} pods: ${String(nodes - from)} nodes in ${s(t, tn)} s, ` +
        `${String((nodes - from) * podsPerNode)} pods in ${s(tn, tp)} s (${((((nodes - from) * podsPerNode) / (tp - tn)) * 1000).toFixed(0)}/s)`,
    );
  };
  const level = async (nodes: number, scale: boolean, count: number) => {
    const results = new Map<EntryPoint, RunResult[]>(builds.map((b) => [b, []]));
    for (let r = 0; r < count; r++) {
      for (const build of builds) {
        const ctx: Ctx = { env, hub, token: token.token, child, parent, nodes, pass: scale ? 'scale' : 'base', build };
        const res = await runOnce(ctx);
        if (!scale && !values['no-rollout'] && !values['no-burst']) {
          // A second agent (a fresh Lease namespace), AppPusher off: the rollout's idle, peak and +settle.
          const more = await runOnce({ ...ctx, pass: 'rollout' });
          for (const [k, v] of Object.entries(more.states)) res.states[`${k} (AppPusher off)`] = v;
          Object.assign(res.bursts, more.bursts);
        }
        results.get(build)?.push(res);
        say(
          `run ${String(r + 1)}${builds.length > 1 ? ` of ${build.label}` : ''}: ${Object.entries(res.states)
            .map(([k, v]) => `${k} ${v.rssMiB.toFixed(1)} MiB`)
            .join(', ')}; first transition ${res.firstTransitionMs.toFixed(0)} ms`,
        );
      }
    }
    for (const [build, rs] of results)
      report(
        rs,
        `${String(nodes)} nodes / ${String(nodes * podsPerNode)} pods${builds.length > 1 ? `, ${build.label}` : ''}`,
      );
  };
  await fill(nodeCount, 0);
  if (runs > 0) await level(nodeCount, false, runs);
  if (values.scale) {
    await fill(scaleNodes, nodeCount);
    await level(scaleNodes, true, scaleRuns);
  }
  await approver.stop();
  await hub.stop();
} finally {
  await sup.stop();
}
