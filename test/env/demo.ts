// The README's first command: brings up local parent and child clusters, prepares the parent the way a
// Clusternet hub would for registration (CRDs, bootstrap token, bootstrapping RBAC, an approver), runs
// the agent against them and prints its transitions until it is registered. Tears everything down at
// the end, or on Ctrl-C.
//
//   npm run demo            run once and tear down
//   npm run demo -- --keep  keep the clusters up until Ctrl-C (kubectl works against them meanwhile)

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, VersionApi } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
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

/** Runs the agent against the clusters and prints its state transitions readably until it is registered. */
async function runAgent(env: TestEnv, token: string): Promise<void> {
  const [port = 10650] = await freePorts(1);
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  const args = [
    `--cluster-reg-parent-url=${env.server('parent')}`,
    '--cluster-reg-token=<bootstrap token>',
    `--kubeconfig=${env.adminKubeconfigPath('child')}`,
    '--cluster-reg-name=demo-child',
    '--leader-elect-resource-namespace=clusternet-system',
    '--bind-address=127.0.0.1',
    `--secure-port=${String(port)}`,
  ];
  say(`$ clusternet-agent ${args.join(' \\\n    ')}`);
  const child = spawn(process.execPath, [main, ...args.map((a) => a.replace('<bootstrap token>', token))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const raw of lines) {
        const line = JSON.parse(raw) as LogLine;
        const t = `${((performance.now() - t0) / 1000).toFixed(2)}s`.padStart(7);
        if (line.transition !== undefined) {
          const why = line.transition.lastFailure === undefined ? '' : `  (${line.transition.lastFailure})`;
          say(`  ${t}  ${line.transition.machine}: ${line.transition.to}${why}`);
          if (line.transition.to === 'registered') resolve();
        } else if (line.msg !== undefined && !line.msg.startsWith('starting')) {
          say(`  ${t}  ${line.msg}`);
        }
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`the agent exited with code ${String(code)}`));
    });
  });
  child.removeAllListeners('exit');

  step('Health and metrics (HTTPS, self-signed certificate)');
  const url = `https://127.0.0.1:${String(port)}`;
  const ready = await eventually('/readyz to answer 200', async () => {
    const r = await httpGet(`${url}/readyz`);
    return r.status === 200 ? r : undefined;
  });
  say(`  GET ${url}/readyz → ${String(ready.status)} ${ready.body}`);
  const metrics = (await httpGet(`${url}/metrics`)).body.split('\n');
  for (const l of metrics.filter((m) => /^clusternet_agent_(leader|registered|registration_results_total)\b/.test(m)))
    say(`  ${l}`);

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
  const approver = new TestApprover(env.adminKubeConfig('parent'));
  approver.start();
  say("  test approver running (what the parent's clusternet-controller-manager does)");
  await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: 'clusternet-system' } } });

  step('Running the agent in the child');
  await runAgent(env, token.token);
  await approver.stop();

  step('What registration left behind');
  const secret = await env
    .adminClient('child', CoreV1Api)
    .readNamespacedSecret({ name: 'parent-cluster', namespace: 'clusternet-system' });
  say(
    `  child:  Secret clusternet-system/parent-cluster with keys ${Object.keys(secret.data ?? {})
      .sort()
      .join(', ')}`,
  );
  const mcs = (await env.adminClient('parent', CustomObjectsApi).listClusterCustomObject({
    group: 'clusters.clusternet.io',
    version: 'v1beta1',
    plural: 'managedclusters',
  })) as { items: { metadata: { name: string; namespace: string } }[] };
  for (const mc of mcs.items) say(`  parent: ManagedCluster ${mc.metadata.namespace}/${mc.metadata.name}`);
  say('  (heartbeats and the tunnel land in the next milestones; this demo grows with them)');
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
} else {
  await shutdown(0);
}
