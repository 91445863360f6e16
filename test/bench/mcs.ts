// npm run bench:mcs [-- --services 1000] [--endpoints 3] [--runs 3] [--changes 100]
// Fills the real child apiserver with `services` selector-less Services, one hand-made EndpointSlice each
// (`endpoints` addresses) and a ServiceExport each; then, per run, starts the real agent process twice:
// once with gate MultiClusterService (the syncer mirrors every slice into its dedicated namespace) and
// once without it (the peer: the same agent doing everything else). Prints medians over the runs of the
// time to the full mirror, the API requests the syncer made for it and for `changes` endpoint changes
// (counted inside the agent process), and both processes' RSS and their ratio.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { eventually } from '../env/eventually.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';
import { installChartCrds, renderChartWithMcs } from '../integration/mcs/harness.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    endpoints: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    changes: { type: 'string', default: '100' },
  },
});
const services = Number(values.services);
const endpoints = Number(values.endpoints);
const runs = Number(values.runs);
const changes = Number(values.changes);
if (
  !Number.isInteger(services) ||
  services < 1 ||
  services > 10_000 ||
  !Number.isInteger(endpoints) ||
  endpoints < 0 ||
  endpoints > 100 ||
  !Number.isInteger(runs) ||
  runs < 1 ||
  runs > 10 ||
  !Number.isInteger(changes) ||
  changes < 0 ||
  changes > services
) {
  process.stderr.write('usage: --services 1..10000 --endpoints 0..100 --runs 1..10 --changes 0..services\n');
  process.exit(2);
}

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const counter = fileURLToPath(new URL('./request-counter.ts', import.meta.url));
const ns = 'bench-mcs';

/** One request with a JSON body over a keep-alive pool (client-node opens a connection per request). */
async function requester(
  env: TestEnv,
): Promise<(method: string, path: string, body: unknown, type?: string) => Promise<void>> {
  const opts: https.RequestOptions = {};
  await env.adminKubeConfig('child').applyToHTTPSOptions(opts);
  const agent = new https.Agent({ ...opts, keepAlive: true, maxSockets: 32 } as https.AgentOptions);
  const base = new URL(env.server('child'));
  return (method, path, body, type = 'application/json') =>
    new Promise<void>((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = https.request(
        new URL(path, base),
        { method, agent, headers: { 'Content-Type': type, 'Content-Length': Buffer.byteLength(data) } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (code < 300 || code === 409) resolve();
            else reject(new Error(`${method} ${path}: ${String(code)} ${text.slice(0, 300)}`));
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

async function pool(n: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

const svc = (i: number): string => `svc-${String(i).padStart(5, '0')}`;
const slice = (i: number, offset = 0) => ({
  metadata: {
    name: `${svc(i)}-a`,
    labels: { 'kubernetes.io/service-name': svc(i), 'endpointslice.kubernetes.io/managed-by': 'bench.clusternet.io' },
  },
  addressType: 'IPv4',
  endpoints: Array.from({ length: endpoints }, (_, e) => ({
    addresses: [`10.${String((i >> 8) & 255)}.${String(i & 255)}.${String(e + 1 + offset)}`],
    conditions: { ready: true },
  })),
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

interface Line {
  msg?: string;
  dedicatedNamespace?: string;
  requestCounts?: Record<string, number>;
}

interface RunResult {
  syncS: number;
  rssMiB: number;
  peakMiB: number;
  syncRequests: Record<string, number>;
  changeRequests: Record<string, number>;
  changeS: number;
}

/** Requests of the syncer: EndpointSlices in the parent, ServiceExports in the child, by method. */
function syncerRequests(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const [, method = '', path = ''] = k.split(' ');
    const m = /\/(endpointslices|serviceexports)(\/|$)/.exec(path);
    if (m === null) continue;
    const what = `${method} ${m[1] ?? ''}${/\/(endpointslices|serviceexports)\/[^/]+$/.test(path) ? '/<name>' : ''}`;
    out[what] = (out[what] ?? 0) + v - (before[k] ?? 0);
  }
  return Object.fromEntries(
    Object.entries(out)
      .filter(([, v]) => v > 0)
      .sort(),
  );
}

async function runAgent(
  env: TestEnv,
  token: string,
  gate: boolean,
  send: Awaited<ReturnType<typeof requester>>,
): Promise<RunResult> {
  const sys = `bench-${randomBytes(3).toString('hex')}`;
  await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: sys } } });
  const agent = spawn(
    process.execPath,
    [
      '--import',
      counter,
      main,
      `--cluster-reg-parent-url=${env.server('parent')}`,
      `--cluster-reg-token=${token}`,
      `--kubeconfig=${env.adminKubeconfigPath('child')}`,
      `--leader-elect-resource-namespace=${sys}`,
      `--feature-gates=MultiClusterService=${String(gate)}`,
      '--logging-format=json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = agent.pid ?? 0;
  const lines: Line[] = [];
  let counts: Record<string, number> = {};
  for (const stream of [agent.stdout, agent.stderr]) {
    let pending = '';
    stream.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const raw of parts) {
        try {
          const l = JSON.parse(raw) as Line;
          if (l.requestCounts !== undefined) counts = l.requestCounts;
          else lines.push(l);
        } catch {
          // not JSON
        }
      }
    });
  }
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid));
  }, 200);
  try {
    const registered = await eventually(
      'registration',
      () =>
        Promise.resolve(
          lines.find((l) => l.dedicatedNamespace !== undefined && l.msg?.startsWith('registered') === true),
        ),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const dedicated = registered.dedicatedNamespace ?? '';
    const parent = env.adminClient('parent', DiscoveryV1Api);
    const t0 = performance.now();
    const copies = async (): Promise<number> =>
      (
        await parent.listNamespacedEndpointSlice({
          namespace: dedicated,
          labelSelector: 'clusternet.io/created-by=clusternet-agent',
        })
      ).items.length;
    let syncS = Number.NaN;
    if (gate) {
      await eventually('every slice mirrored', async () => ((await copies()) >= services ? true : undefined), {
        timeoutMs: 600_000,
        intervalMs: 250,
      });
      syncS = (performance.now() - t0) / 1000;
    } else {
      await new Promise((r) => setTimeout(r, 20_000));
    }
    await new Promise((r) => setTimeout(r, 3_000)); // counters and memory settle
    const afterSync = { ...counts };
    let changeS = Number.NaN;
    if (gate && changes > 0) {
      const t1 = performance.now();
      await pool(changes, 16, async (i) => {
        await send(
          'PATCH',
          `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${svc(i)}-a`,
          { endpoints: slice(i, 100).endpoints },
          'application/merge-patch+json',
        );
      });
      const want = `10.${String(((changes - 1) >> 8) & 255)}.${String((changes - 1) & 255)}.101`;
      await eventually(
        'the changes mirrored',
        async () => {
          const s = await parent.readNamespacedEndpointSlice({
            name: `${ns}-${svc(changes - 1)}-a`,
            namespace: dedicated,
          });
          return s.endpoints?.[0]?.addresses[0] === want ? true : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      changeS = (performance.now() - t1) / 1000;
      await new Promise((r) => setTimeout(r, 3_000));
    }
    const rss = median([0, 1, 2, 3, 4].map(() => rssKiB(pid)));
    return {
      syncS,
      rssMiB: rss / 1024,
      peakMiB: peak / 1024,
      syncRequests: syncerRequests({}, afterSync),
      changeRequests: syncerRequests(afterSync, counts),
      changeS,
    };
  } finally {
    clearInterval(sampler);
    agent.kill('SIGKILL');
  }
}

const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
try {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  const approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  await installChartCrds(env, await renderChartWithMcs());
  await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  const send = await requester(env);
  const fillStart = performance.now();
  await pool(services, 32, async (i) => {
    await send('POST', `/api/v1/namespaces/${ns}/services`, {
      metadata: { name: svc(i) },
      // Headless: the test cluster's service IP range is smaller than 1,000.
      spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    await send('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, slice(i));
    await send('POST', `/apis/multicluster.x-k8s.io/v1alpha1/namespaces/${ns}/serviceexports`, {
      apiVersion: 'multicluster.x-k8s.io/v1alpha1',
      kind: 'ServiceExport',
      metadata: { name: svc(i) },
    });
  });
  say(
    `filled ${String(services)} Services, slices (${String(endpoints)} endpoints each) and ServiceExports in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`,
  );
  const on: RunResult[] = [];
  const off: RunResult[] = [];
  for (let r = 0; r < runs; r++) {
    // Every run starts from ServiceExports without our finalizer, and slices as first created.
    await pool(services, 32, async (i) => {
      await send(
        'PATCH',
        `/apis/multicluster.x-k8s.io/v1alpha1/namespaces/${ns}/serviceexports/${svc(i)}`,
        { metadata: { finalizers: null } },
        'application/merge-patch+json',
      );
      await send(
        'PATCH',
        `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${svc(i)}-a`,
        { endpoints: slice(i).endpoints },
        'application/merge-patch+json',
      );
    });
    on.push(await runAgent(env, token.token, true, send));
    off.push(await runAgent(env, token.token, false, send));
    const last = on.at(-1);
    say(
      `run ${String(r + 1)}: mirror ${last?.syncS.toFixed(1) ?? ''} s, RSS ${last?.rssMiB.toFixed(0) ?? ''} MiB with the gate, ${off.at(-1)?.rssMiB.toFixed(0) ?? ''} MiB without`,
    );
  }
  await approver.stop();
  const med = (xs: number[]): string => median(xs).toFixed(1);
  const medCounts = (rs: Record<string, number>[]): string =>
    [...new Set(rs.flatMap((x) => Object.keys(x)))]
      .sort()
      .map((k) => `${k} ${median(rs.map((x) => x[k] ?? 0)).toFixed(0)}`)
      .join(', ');
  say('');
  say(
    `| ${String(services)} exported services, ${String(endpoints)} endpoints each, median of ${String(runs)} runs | figure |`,
  );
  say('|---|---|');
  say(`| time to mirror every slice (from registration) | ${med(on.map((x) => x.syncS))} s |`);
  say(`| syncer requests for the full mirror | ${medCounts(on.map((x) => x.syncRequests))} |`);
  say(`| ${String(changes)} endpoint changes: time until the last is mirrored | ${med(on.map((x) => x.changeS))} s |`);
  say(`| syncer requests for those ${String(changes)} changes | ${medCounts(on.map((x) => x.changeRequests))} |`);
  say(
    `| agent RSS with the gate (settled / peak) | ${med(on.map((x) => x.rssMiB))} / ${med(on.map((x) => x.peakMiB))} MiB |`,
  );
  say(
    `| agent RSS without the gate, same run (settled / peak) | ${med(off.map((x) => x.rssMiB))} / ${med(off.map((x) => x.peakMiB))} MiB |`,
  );
  say(
    `| RSS ratio with / without | ${(median(on.map((x) => x.rssMiB)) / median(off.map((x) => x.rssMiB))).toFixed(2)} |`,
  );
} finally {
  await sup.stop();
}
