// The README's first command: brings up local parent and child clusters, prepares the parent the way a
// Clusternet hub would for registration (CRDs, bootstrap token, bootstrapping RBAC), runs the agent
// binary against them and prints what happens. Tears everything down at the end, or on Ctrl-C.
//
//   npm run demo            run once and tear down
//   npm run demo -- --keep  keep the clusters up until Ctrl-C (kubectl works against them meanwhile)

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, RbacAuthorizationV1Api, VersionApi } from '@kubernetes/client-node';
import { startSupervisor, type Supervisor } from './supervisor.ts';
import { TestEnv } from './test-env.ts';

const keep = process.argv.includes('--keep');
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const step = (s: string): void => {
  say(`\n${bold(`==> ${s}`)}`);
};

/** What Clusternet's hub chart grants the registration token's group: create and get CRRs. */
async function grantBootstrapping(env: TestEnv, group: string): Promise<void> {
  const rbac = env.adminClient('parent', RbacAuthorizationV1Api);
  const name = 'clusternet:system:bootstrapping';
  await rbac.createClusterRole({
    body: {
      metadata: { name },
      rules: [
        { apiGroups: ['clusters.clusternet.io'], resources: ['clusterregistrationrequests'], verbs: ['create', 'get'] },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'Group', name: group, apiGroup: 'rbac.authorization.k8s.io' }],
    },
  });
}

async function runAgent(args: readonly string[]): Promise<number> {
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  say(`$ clusternet-agent ${args.join(' ')}`);
  const child = spawn(process.execPath, [main, ...args], { stdio: 'inherit' });
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      resolve(code ?? 1);
    }),
  );
}

async function demo(sup: Supervisor): Promise<void> {
  const env = new TestEnv(sup.descriptor);
  step(`Clusters are up (${String(sup.descriptor.startupMs)} ms)`);
  for (const name of ['parent', 'child'] as const) {
    const v = await env.adminClient(name, VersionApi).getCode();
    const namespaces = (await env.adminClient(name, CoreV1Api).listNamespace()).items.length;
    say(
      `  ${name.padEnd(6)} ${env.server(name)}  Kubernetes ${v.gitVersion} (${v.platform}), ${String(namespaces)} namespaces`,
    );
    say(`         kubeconfig: ${env.adminKubeconfigPath(name)}`);
  }

  step('Preparing the parent as a Clusternet hub would');
  const crds = await env.installClusternetCrds();
  for (const crd of crds) say(`  CRD established: ${crd}`);
  const group = 'system:bootstrappers:clusternet:register-cluster-token';
  const token = await env.createBootstrapToken('parent', { extraGroups: [group], ttlSeconds: 3600 });
  await grantBootstrapping(env, group);
  say(`  bootstrap token ${token.id}.**************** (group ${group}) may create ClusterRegistrationRequests`);

  step('Running the agent');
  await runAgent(['--version']);
  const code = await runAgent([]);
  say(`  (exit code ${String(code)}: registration, heartbeats and the tunnel land in the next milestones;`);
  say('   this demo grows with them)');
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
