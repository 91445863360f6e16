// npm run bench:deployer [-- --descriptions 500 --objects 5 --concurrency 2,16 --recovery true --qps 50]
// Writes N Generic Descriptions of M objects each (ConfigMaps, a Secret, a Service, a Deployment: API
// objects, no kubelets) into the dedicated namespace of a cluster registered through the test
// approver, then starts the real deployer in its own process and prints, per worker count: the time
// until every Description reports Success in the parent (and every object exists in the child), the
// deployer process's peak and final RSS, and the reconciles it made.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { Description } from '../../machines/deployer/decisions.ts';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';
import { description, installAppDeployer, registerCluster } from '../integration/helpers/deployer-harness.ts';
import { rolloutObjects } from './rollout-objects.ts';

const { values } = parseArgs({
  options: {
    descriptions: { type: 'string', default: '500' },
    objects: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '2,16' },
    recovery: { type: 'string', default: 'true' },
    // --kube-api-qps (burst twice that); 50 is the agent's default, as the Go agent's.
    qps: { type: 'string', default: '50' },
  },
});
const n = Number(values.descriptions);
const m = Number(values.objects);
const concurrencies = values.concurrency.split(',').map(Number);
const qps = Number(values.qps);
if (
  !Number.isInteger(n) ||
  n < 1 ||
  n > 5000 ||
  !Number.isInteger(m) ||
  m < 1 ||
  m > 50 ||
  concurrencies.some((c) => !Number.isInteger(c) || c < 1 || c > 64) ||
  !(qps > 0 && qps <= 100_000)
) {
  process.stderr.write(
    'usage: --descriptions 1..5000 --objects 1..50 --concurrency C,C,… (1..64) --recovery true|false --qps Q (>0)\n',
  );
  process.exit(2);
}
const gates = values.recovery === 'true' ? 'Recovery=true' : 'Recovery=false';
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const driver = fileURLToPath(new URL('./deployer-process.ts', import.meta.url));

async function pool(count: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
try {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  const approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  const parentObjects = env.adminClient('parent', CustomObjectsApi);
  const childCore = env.adminClient('child', CoreV1Api);
  say(
    `deployer benchmark: ${String(n)} Descriptions × ${String(m)} objects, ${gates}, --kube-api-qps ${String(qps)}, Kubernetes ${env.kubernetesVersion}`,
  );
  say('workers  all Success (s)  objects/s  reconciles  peak RSS (MiB)  final RSS (MiB)  after GC: RSS / heap (MiB)');
  for (const concurrency of concurrencies) {
    const cluster = await registerCluster(env, 'Pull');
    const systemNamespace = `cnet-${randomBytes(3).toString('hex')}`;
    const appNs = `bench-${randomBytes(3).toString('hex')}`;
    await installAppDeployer(env.adminKubeConfig('child'), systemNamespace);
    await childCore.createNamespace({ body: { metadata: { name: appNs } } });
    await pool(n, 16, (i) =>
      parentObjects.createNamespacedCustomObject({
        group: 'apps.clusternet.io',
        version: 'v1alpha1',
        namespace: cluster.dedicatedNamespace,
        plural: 'descriptions',
        body: description(cluster.dedicatedNamespace, `d${String(i)}-generic`, rolloutObjects(appNs, i, m)),
      }),
    );
    const logPath = join(tmpdir(), `bench-deployer-${String(concurrency)}.log`);
    const startedAt = performance.now();
    const child = spawn(
      process.execPath,
      [
        driver,
        JSON.stringify({
          descriptor: sup.descriptorPath,
          clusterId: cluster.clusterId,
          dedicatedNamespace: cluster.dedicatedNamespace,
          systemNamespace,
          credentials: cluster.parent.credentials,
          gates,
          qps,
          concurrency,
          logPath,
        }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let peakRss = 0;
    let lastRss = 0;
    let reconciled = 0;
    let afterGc = { rss: 0, heapUsed: 0 };
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) {
        const o = JSON.parse(l) as { rss?: number; reconciled?: number; afterGc?: typeof afterGc };
        if (o.afterGc !== undefined) afterGc = o.afterGc;
        if (o.rss !== undefined) {
          peakRss = Math.max(peakRss, o.rss);
          lastRss = o.rss;
        }
        if (o.reconciled !== undefined) reconciled = o.reconciled;
      }
    });
    let done = 0;
    const deadline = Date.now() + 300_000;
    while (done < n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const list = (await parentObjects.listNamespacedCustomObject({
        group: 'apps.clusternet.io',
        version: 'v1alpha1',
        namespace: cluster.dedicatedNamespace,
        plural: 'descriptions',
      })) as { items: Description[] };
      done = list.items.filter((d) => d.status?.phase === 'Success').length;
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const applied = (await childCore.listNamespacedConfigMap({ namespace: appNs })).items.filter(
      (c) => c.metadata?.annotations?.['apps.clusternet.io/owned-by-description'] !== undefined,
    ).length;
    await new Promise((r) => setTimeout(r, 1_000)); // one more RSS sample after the burst
    child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 1_000));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (done < n)
      say(`  only ${String(done)} of ${String(n)} Descriptions reached Success within 300 s (log ${logPath})`);
    say(
      `${String(concurrency).padStart(7)}  ${seconds.toFixed(1).padStart(16)}  ${((n * m) / seconds).toFixed(0).padStart(9)}  ${String(reconciled).padStart(10)}  ${(peakRss / 2 ** 20).toFixed(0).padStart(14)}  ${(lastRss / 2 ** 20).toFixed(0).padStart(15)}  ${(afterGc.rss / 2 ** 20).toFixed(0).padStart(17)} / ${(afterGc.heapUsed / 2 ** 20).toFixed(0)}`,
    );
    say(`         (${String(applied)} owned ConfigMaps in the child, expected ${String(n * Math.max(0, m - 3))})`);
    await childCore.deleteNamespace({ name: appNs }).catch(() => undefined);
  }
  await approver.stop();
} finally {
  await sup.stop();
}
