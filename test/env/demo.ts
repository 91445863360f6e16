// The README's first command: brings up local parent and child clusters (in a network namespace of
// their own), prepares the parent the way a Clusternet hub would (CRDs, bootstrap token, bootstrapping
// RBAC, an approver, and the hub's tunnel end: the Go remotedialer server behind the parent apiserver
// as the aggregated API proxies.clusternet.io), runs the agent against them and shows, readably, its
// election, registration, first heartbeats and the tunnel, what it left in both clusters, the hub
// reaching the child through the tunnel, health and metrics, and a clean SIGTERM. Tears everything
// down at the end, or on Ctrl-C.
//
//   npm run demo            run once and tear down
//   npm run demo -- --keep  keep the clusters up until Ctrl-C

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, VersionApi } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { hubUnavailableReason, startTunnelHub } from '../peers/remotedialer/hub.ts';
import type { GoTunnelServer } from '../peers/remotedialer/peer.ts';
import { startSupervisor, type Supervisor } from './supervisor.ts';
import { TestEnv } from './test-env.ts';
import { eventually } from './eventually.ts';
import { freePorts, httpGet } from './net.ts';

const keep = process.argv.includes('--keep');
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const step = (s: string): void => {
  say(`\n${bold(`==> ${s}`)}`);
};

interface LogLine {
  msg?: string;
  transition?: { machine: string; from: string; to: string; lastFailure?: string };
}

/** A readable line for a transition, or undefined for the routine ones (renewals, collections). */
function describe(t: NonNullable<LogLine['transition']>): string | undefined {
  const top = (state: string): string => state.split('.')[0] ?? state;
  if (t.machine === 'leadership') return top(t.from) === top(t.to) ? undefined : `leadership: ${t.to}`;
  if (t.machine === 'heartbeat') {
    // Only the reporting region: a report accepted by the parent.
    const reporting = (state: string): string | undefined => /reporting\.(\w+)/.exec(state)?.[1];
    return reporting(t.from) === 'sending' && reporting(t.to) === 'settling'
      ? 'heartbeat: status reported to the parent'
      : undefined;
  }
  if (t.machine === 'socket') {
    const s = t.to.startsWith('session.open') ? 'session.open' : t.to;
    return `tunnel: ${s}${t.lastFailure === undefined ? '' : `  (${t.lastFailure})`}`;
  }
  return `${t.machine}: ${t.to}${t.lastFailure === undefined ? '' : `  (${t.lastFailure})`}`;
}

/** Runs the agent against the clusters and prints what it does, until it reports and (if on) tunnels. */
async function runAgent(env: TestEnv, token: string, hub: GoTunnelServer | undefined): Promise<void> {
  const [port = 10650] = await freePorts(1);
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  const args = [
    `--cluster-reg-parent-url=${env.server('parent')}`,
    '--cluster-reg-token=<bootstrap token>',
    `--kubeconfig=${env.adminKubeconfigPath('child')}`,
    '--cluster-reg-name=demo-child',
    '--leader-elect-resource-namespace=clusternet-system',
    ...(hub === undefined ? [] : ['--feature-gates=SocketConnection=true']),
    '--cluster-status-collect-frequency=5s',
    '--v=4', // routine steps (each report) are debug lines; the demo shows the reports
    '--bind-address=127.0.0.1',
    `--secure-port=${String(port)}`,
    '--logging-format=json',
  ];
  say(`$ clusternet-agent ${args.join(' \\\n    ')}`);
  const child = spawn(process.execPath, [main, ...args.map((a) => a.replace('<bootstrap token>', token))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const t0 = performance.now();
  let clusterId = '';
  await new Promise<void>((resolve, reject) => {
    let pending = '';
    let reported = false;
    let tunnelled = hub === undefined;
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const raw of lines) {
        const line = JSON.parse(raw) as LogLine & { clusterId?: string };
        const t = `${((performance.now() - t0) / 1000).toFixed(2)}s`.padStart(7);
        if (line.transition !== undefined) {
          const text = describe(line.transition);
          if (text !== undefined) say(`  ${t}  ${text}`);
          if (text === 'heartbeat: status reported to the parent') reported = true;
          if (text === 'tunnel: session.open') tunnelled = true;
          if (reported && tunnelled) resolve();
        } else if (line.msg !== undefined && !line.msg.startsWith('starting')) {
          if (line.clusterId !== undefined) clusterId = line.clusterId;
          say(`  ${t}  ${line.msg}`);
        }
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`the agent exited with code ${String(code)}`));
    });
  });
  child.removeAllListeners('exit');

  step('What the parent sees: the ManagedCluster status the heartbeat wrote');
  const mcs = (await env.adminClient('parent', CustomObjectsApi).listClusterCustomObject({
    group: 'clusters.clusternet.io',
    version: 'v1beta1',
    plural: 'managedclusters',
    labelSelector: `clusters.clusternet.io/cluster-id=${clusterId}`,
  })) as { items: { metadata: { name: string; namespace: string }; status?: Record<string, unknown> }[] };
  for (const mc of mcs.items) {
    say(`  ManagedCluster ${mc.metadata.namespace}/${mc.metadata.name}:`);
    const st = mc.status ?? {};
    for (const key of [
      'k8sVersion',
      'platform',
      'agentVersion',
      'apiserverURL',
      'healthz',
      'livez',
      'readyz',
      'appPusher',
      'useSocket',
      'nodeStatistics',
      'capacity',
      'allocatable',
      'heartbeatFrequencySeconds',
      'lastObservedTime',
    ])
      if (key in st) say(`    ${key}: ${JSON.stringify(st[key])}`);
    const conditions = (st.conditions ?? []) as { type: string; status: string; reason: string }[];
    for (const c of conditions) say(`    condition ${c.type}=${c.status} (${c.reason})`);
  }

  if (hub !== undefined) {
    step('The hub reaches the child apiserver through the tunnel');
    const target = new URL(env.server('child')).host;
    const res = await hub.call(hub.proxyUrl(clusterId, 'https', target, '/version'));
    const v = JSON.parse(res.body.toString()) as { gitVersion?: string };
    say(`  GET /version of the child via the tunnel → ${String(res.status)} ${v.gitVersion ?? ''}`);
  }

  step('Health and metrics (HTTPS, self-signed certificate)');
  const url = `https://127.0.0.1:${String(port)}`;
  const ready = await eventually('/readyz to answer 200', async () => {
    const r = await httpGet(`${url}/readyz`);
    return r.status === 200 ? r : undefined;
  });
  say(`  GET ${url}/readyz → ${String(ready.status)} ${ready.body}`);
  const metrics = (await httpGet(`${url}/metrics`)).body.split('\n');
  const shown =
    /^clusternet_agent_(leader|registered|registration_results_total|tunnel_up|tunnel_bytes_total|heartbeat_report_duration_seconds_count)\b/;
  for (const l of metrics.filter((m) => shown.test(m))) say(`  ${l}`);

  step('SIGTERM: the leader stops its work and releases the Lease');
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  say(`  agent exited with code ${String(await exited)}`);
}

async function demo(sup: Supervisor): Promise<void> {
  const env = new TestEnv(sup.descriptor);
  step(`Clusters are up (${String(sup.descriptor.startupMs)} ms)`);
  for (const name of ['parent', 'child'] as const) {
    const v = await env.adminClient(name, VersionApi).getCode();
    say(`  ${name.padEnd(6)} ${env.server(name)}  Kubernetes ${v.gitVersion} (${v.platform})`);
    say(`         kubeconfig: ${env.adminKubeconfigPath(name)}`);
  }

  step('Preparing the parent as a Clusternet hub would');
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  say('  Clusternet CRDs established; ClusterRole clusternet:system:bootstrapping bound to the registration group');
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup], ttlSeconds: 3600 });
  say(`  bootstrap token ${token.id}.**************** (group ${bootstrapGroup})`);
  const approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true });
  approver.start();
  say("  test approver running (what the parent's clusternet-controller-manager does, with SocketConnection)");
  const noHub = hubUnavailableReason(env);
  let hub: GoTunnelServer | undefined;
  if (noHub === undefined) {
    hub = await startTunnelHub(env, 'v0.3.0');
    say(
      `  hub tunnel end: Go remotedialer v0.3.0 at ${hub.url}, the parent's APIService v1alpha1.proxies.clusternet.io`,
    );
  } else {
    say(`  no tunnel in this demo: ${noHub}`);
  }
  const core = env.adminClient('child', CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'clusternet-system' } } });
  for (const [i, cpu] of ['4', '2'].entries()) {
    await core.createNode({
      body: {
        metadata: { name: `demo-node-${String(i + 1)}` },
        status: {
          capacity: { cpu, memory: '8Gi' },
          allocatable: { cpu, memory: '8Gi' },
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'Demo',
              lastHeartbeatTime: new Date(),
              lastTransitionTime: new Date(),
            },
          ],
        },
      },
    });
  }
  say('  child: two Node objects (no kubelets here), for the heartbeat to count');

  step('Running the agent in the child');
  try {
    await runAgent(env, token.token, hub);
  } finally {
    await approver.stop();
    await hub?.stop();
  }

  step('What registration left in the child');
  const secret = await core.readNamespacedSecret({ name: 'parent-cluster', namespace: 'clusternet-system' });
  say(
    `  Secret clusternet-system/parent-cluster with keys ${Object.keys(secret.data ?? {})
      .sort()
      .join(', ')}`,
  );
}

const sup = await startSupervisor({
  log: (l) => {
    say(`  ${l}`);
  },
});
let stopping = false;
const shutdown = async (code: number): Promise<never> => {
  if (!stopping) {
    stopping = true;
    step('Tearing down');
    await sup.stop();
    say('  all processes stopped, run directory removed');
  }
  process.exit(code);
};
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));
try {
  await demo(sup);
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdown(1);
}
if (keep) {
  step('Clusters stay up; press Ctrl-C to tear down');
  if (sup.descriptor.netns !== undefined) {
    say(
      `  they live in network namespace ${sup.descriptor.netns}: ip netns exec ${sup.descriptor.netns} kubectl --kubeconfig …`,
    );
  }
} else {
  await shutdown(0);
}
