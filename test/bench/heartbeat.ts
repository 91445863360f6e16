// npm run bench:heartbeat [-- --sizes 100,1000,5000] [--pods-per-node 30] [--runs 3] [--window 40]
// Fills the real child apiserver with Node and Pod objects (API objects: no kubelets) up to each size
// in turn, then runs the real agent (registered through the test approver) against it several times
// and prints, per size, medians over the runs of: agent RSS (peak and at the end), the initial node
// list, collection and report latency, time from start to the first report, and the API requests the
// agent makes per collection (child) and per report (parent), counted inside the agent process.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { eventually } from '../env/eventually.ts';
import { kubeadmControllerManagerPod } from '../env/fixtures.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000,5000' },
    'pods-per-node': { type: 'string', default: '30' },
    runs: { type: 'string', default: '3' },
    window: { type: 'string', default: '40' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const podsPerNode = Number(values['pods-per-node']);
const runs = Number(values.runs);
const windowS = Number(values.window);
if (
  sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000) ||
  !Number.isInteger(podsPerNode) ||
  podsPerNode < 0 ||
  podsPerNode > 110 ||
  !Number.isInteger(runs) ||
  runs < 1 ||
  runs > 20 ||
  !(windowS >= 15 && windowS <= 600)
) {
  process.stderr.write(
    'usage: --sizes N,N,… (1..20000) --pods-per-node 0..110 --runs 1..20 --window 15..600 (seconds)\n',
  );
  process.exit(2);
}

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const counter = fileURLToPath(new URL('./request-counter.ts', import.meta.url));

/**
 * A POST of a JSON object to the child apiserver over one keep-alive connection pool (client-node opens a
 * new connection per request, which makes filling 150,000 pods take many minutes).
 */
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
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (code === 201 || code === 409) resolve();
            else reject(new Error(`POST ${path}: ${String(code)} ${text.slice(0, 300)}`));
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

/** Runs `work(i)` for i in [from, to) with `concurrency` in flight. */
async function pool(from: number, to: number, concurrency: number, work: (i: number) => Promise<unknown>) {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await work(next++);
    }),
  );
}

const images = Array.from({ length: 20 }, (_, i) => ({
  names: [
    `registry.example/team/app-${String(i)}@sha256:${'0'.repeat(64)}`,
    `registry.example/team/app-${String(i)}:v1`,
  ],
  sizeBytes: 50_000_000 + i,
}));

function node(i: number): V1Node {
  const name = `bench-node-${String(i).padStart(5, '0')}`;
  const now = new Date();
  const condition = (type: string, status: string) => ({
    type,
    status,
    reason: 'Bench',
    message: 'bench',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return {
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'm5.xlarge',
        'topology.kubernetes.io/zone': `zone-${String(i % 3)}`,
        'node.clusternet.io/zone': `zone-${String(i % 3)}`,
        'node.clusternet.io/pool': 'general',
      },
    },
    spec: { podCIDR: `10.${String(Math.floor(i / 256) % 256)}.${String(i % 256)}.0/24` },
    status: {
      capacity: { cpu: '4', memory: '16283004Ki', pods: '110', 'ephemeral-storage': '104845292Ki' },
      allocatable: { cpu: '3920m', memory: '15263996Ki', pods: '110', 'ephemeral-storage': '96625420245' },
      conditions: [
        condition('MemoryPressure', 'False'),
        condition('DiskPressure', 'False'),
        condition('PIDPressure', 'False'),
        condition('Ready', i % 50 === 0 ? 'False' : 'True'),
      ],
      addresses: [
        { type: 'InternalIP', address: `10.0.${String(Math.floor(i / 256))}.${String(i % 256)}` },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        machineID: randomBytes(16).toString('hex'),
        systemUUID: randomBytes(16).toString('hex'),
        bootID: randomBytes(16).toString('hex'),
        kernelVersion: '6.1.0',
        osImage: 'Debian GNU/Linux 12',
        containerRuntimeVersion: 'containerd://1.7.0',
        kubeletVersion: 'v1.35.4',
        kubeProxyVersion: 'v1.35.4',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images,
    },
  };
}

function pod(i: number): V1Pod {
  const nodeIndex = Math.floor(i / Math.max(1, podsPerNode));
  return {
    metadata: {
      name: `bench-pod-${String(i).padStart(7, '0')}`,
      labels: { app: `app-${String(i % 100)}`, 'pod-template-hash': 'abcdef' },
    },
    spec: {
      nodeName: `bench-node-${String(nodeIndex).padStart(5, '0')}`,
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'app',
          image: 'registry.example/team/app:v1',
          args: ['--port=8080', '--log-level=info'],
          env: [{ name: 'MODE', value: 'bench' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
        },
      ],
    },
  };
}

interface RunResult {
  rssPeakMiB: number;
  rssEndMiB: number;
  listMs: number;
  firstReportS: number;
  collectMs: number;
  collectMaxMs: number;
  reportMs: number;
  childPerCollection: number;
  parentPerReport: number;
}

interface Line {
  msg?: string;
  ms?: number;
  requestCounts?: Record<string, number>;
}

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

async function runAgent(env: TestEnv, token: string, parentPort: string): Promise<RunResult> {
  const ns = `bench-${randomBytes(3).toString('hex')}`;
  await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  const t0 = performance.now();
  const agent = spawn(
    process.execPath,
    [
      '--import',
      counter,
      main,
      `--cluster-reg-parent-url=${env.server('parent')}`,
      `--cluster-reg-token=${token}`,
      `--kubeconfig=${env.adminKubeconfigPath('child')}`,
      `--leader-elect-resource-namespace=${ns}`,
      '--cluster-status-collect-frequency=5s',
      '--cluster-status-update-frequency=15s',
      '--v=4',
      '--logging-format=json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = agent.pid ?? 0;
  const lines: (Line & { at: number })[] = [];
  let latestCounts: Record<string, number> = {};
  const reader = (stream: NodeJS.ReadableStream) => {
    let pending = '';
    stream.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const raw of parts) {
        try {
          const l = JSON.parse(raw) as Line;
          if (l.requestCounts !== undefined) latestCounts = l.requestCounts;
          else lines.push({ ...l, at: performance.now() });
        } catch {
          // not JSON: ignore
        }
      }
    });
  };
  reader(agent.stdout);
  reader(agent.stderr);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid));
  }, 200);
  try {
    const firstReport = await eventually(
      'the first report',
      () => Promise.resolve(lines.find((l) => l.msg === 'reported the cluster status')),
      { timeoutMs: 180_000, intervalMs: 100 },
    );
    // Let the counters catch up, then measure a steady window.
    await new Promise((r) => setTimeout(r, 1500));
    const startCounts = { ...latestCounts };
    const startIndex = lines.length;
    await new Promise((r) => setTimeout(r, windowS * 1000));
    await new Promise((r) => setTimeout(r, 1100));
    const endCounts = latestCounts;
    const rssEnd = rssKiB(pid);
    const windowLines = lines.slice(startIndex);
    const collections = windowLines.filter((l) => l.msg === 'collected the cluster status');
    const reports = windowLines.filter((l) => l.msg === 'reported the cluster status');
    const delta = (pred: (key: string) => boolean): number =>
      Object.entries(endCounts)
        .filter(([k]) => pred(k))
        .reduce((sum, [k, v]) => sum + v - (startCounts[k] ?? 0), 0);
    const isParent = (k: string) => k.includes(`:${parentPort} `);
    // The heartbeat's own child requests: not the Lease renewals (every 2 s) nor the deployer's reads of
    // its app-deployer credentials, which run alongside it in the same process.
    const isHeartbeatChild = (k: string) =>
      !isParent(k) && !/\/(leases|secrets|serviceaccounts)(\/|$)/.test(k.split(' ')[2] ?? '');
    const list = lines.find((l) => l.msg?.startsWith('listed ') === true);
    const collectMs = lines.filter((l) => l.msg === 'collected the cluster status').map((l) => l.ms ?? 0);
    return {
      rssPeakMiB: peak / 1024,
      rssEndMiB: rssEnd / 1024,
      listMs: list?.ms ?? Number.NaN,
      firstReportS: (firstReport.at - t0) / 1000,
      collectMs: median(collectMs.slice(1)),
      collectMaxMs: Math.max(...collectMs.slice(1)),
      reportMs: median(lines.filter((l) => l.msg === 'reported the cluster status').map((l) => l.ms ?? 0)),
      childPerCollection: delta(isHeartbeatChild) / Math.max(1, collections.length),
      parentPerReport: delta((k) => isParent(k) && k.includes('managedclusters')) / Math.max(1, reports.length),
    };
  } finally {
    clearInterval(sampler);
    agent.kill('SIGKILL');
  }
}

const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
try {
  const core = env.adminClient('child', CoreV1Api);
  const post = await poster(env);
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  const approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  await core.createNamespace({ body: { metadata: { name: 'bench-pods' } } });
  await eventually('the default ServiceAccount of bench-pods', () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: 'bench-pods' }),
  );
  // A control-plane pod, so that CIDR discovery has something to find.
  await core.createNamespacedPod({
    namespace: 'kube-system',
    body: kubeadmControllerManagerPod('kube-controller-manager-bench'),
  });
  const parentPort = new URL(env.server('parent')).port;
  const rows: string[] = [];
  let nodes = 0;
  for (const size of sizes) {
    const fillStart = performance.now();
    await pool(nodes, size, 32, (i) => post('/api/v1/nodes', node(i)));
    await pool(nodes * podsPerNode, size * podsPerNode, 64, (i) => post('/api/v1/namespaces/bench-pods/pods', pod(i)));
    nodes = Math.max(nodes, size);
    say(
      `\n${String(size)} nodes, ${String(size * podsPerNode)} pods (filled in ${((performance.now() - fillStart) / 1000).toFixed(0)} s)`,
    );
    const results: RunResult[] = [];
    for (let r = 0; r < runs; r++) {
      const res = await runAgent(env, token.token, parentPort);
      results.push(res);
      say(
        `  run ${String(r + 1)}: RSS peak ${res.rssPeakMiB.toFixed(0)} MiB, end ${res.rssEndMiB.toFixed(0)} MiB; node list ${res.listMs.toFixed(0)} ms; first report ${res.firstReportS.toFixed(1)} s after start; collection ${res.collectMs.toFixed(0)} ms (max ${res.collectMaxMs.toFixed(0)}); report ${res.reportMs.toFixed(0)} ms; requests per collection ${res.childPerCollection.toFixed(1)}, per report ${res.parentPerReport.toFixed(1)}`,
      );
    }
    const m = (k: keyof RunResult, digits = 0): string => median(results.map((x) => x[k])).toFixed(digits);
    rows.push(
      `| ${String(size)} | ${String(size * podsPerNode)} | ${m('rssPeakMiB')} | ${m('rssEndMiB')} | ${m('listMs')} | ${m('firstReportS', 1)} | ${m('collectMs')} | ${m('collectMaxMs')} | ${m('reportMs')} | ${m('childPerCollection', 1)} | ${m('parentPerReport', 1)} |`,
    );
  }
  await approver.stop();
  say(
    `\nmedians over ${String(runs)} runs per size (goal at 5000 nodes / 150000 pods: RSS ≤ 300 MB, collection ≤ 1 s):`,
  );
  say(
    '| nodes | pods | RSS peak MiB | RSS end MiB | node list ms | first report s | collection ms | collection max ms | report ms | child requests / collection | parent requests / report |',
  );
  say('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) say(r);
} finally {
  await sup.stop();
}
