// The chart in the real child cluster: helm install (no kubelet, so pods never run, but every object
// must be accepted), upgrade, uninstall leaving nothing behind; and the chart's RBAC is enough for the
// agent: run with a token of the chart's ServiceAccount and the Deployment's own args, it registers.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  type V1Deployment,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { chartDir, expandKubeletVars, helm, setJson, type Manifest } from '../../chart/helm.ts';
import { containerEnv } from '../../chart/shapes.ts';
import { eventually } from '../../env/eventually.ts';
import type { BootstrapToken } from '../../env/fixtures.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { AgentProcess } from '../helpers/agent-process.ts';

const env = testEnv();
const kubeconfig = (): string => env.adminKubeconfigPath('child');
const core = () => env.adminClient('child', CoreV1Api);
const apps = () => env.adminClient('child', AppsV1Api);
const rbac = () => env.adminClient('child', RbacAuthorizationV1Api);
const policy = () => env.adminClient('child', PolicyV1Api);

let token: BootstrapToken;
let approver: TestApprover;
let scratch: string;
const namespaces: string[] = [];
const releases: { name: string; namespace: string }[] = [];
const agents: AgentProcess[] = [];

beforeAll(async () => {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  // As the controller-manager with SocketConnection: the chart turns the agent's gate on.
  approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true });
  approver.start();
  scratch = await mkdtemp(join(tmpdir(), 'cnat-chart-'));
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await approver.stop();
  for (const r of releases) await helm(['uninstall', r.name, '-n', r.namespace, '--kubeconfig', kubeconfig()]);
  for (const ns of namespaces)
    await core()
      .deleteNamespace({ name: ns })
      .catch(() => undefined);
  await rm(scratch, { recursive: true, force: true });
});

const fresh = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

async function helmOk(args: string[]): Promise<string> {
  const r = await helm([...args, '--kubeconfig', kubeconfig()], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** `helm install` of the chart with the test parent's URL and bootstrap token, then `values`. */
const installArgs = (release: string, ns: string, values: Record<string, unknown>): string[] => [
  'install',
  release,
  chartDir,
  '-n',
  ns,
  '--create-namespace',
  // All with --set-json: helm applies --set after --set-json, so a --set would win over `values`.
  ...setJson({ parentURL: env.server('parent'), registrationToken: token.token, ...values }),
];

async function install(release: string, ns: string, values: Record<string, unknown> = {}): Promise<string> {
  namespaces.push(ns);
  releases.push({ name: release, namespace: ns });
  return helmOk(installArgs(release, ns, values));
}

const is404 = (err: unknown): boolean => err instanceof ApiException && err.code === 404;
const instanceSelector = (release: string): string => `app.kubernetes.io/instance=${release}`;

/** Everything in the release's namespace (and the release's cluster-scoped objects), as kind/name. */
async function releaseObjects(release: string, ns: string): Promise<string[]> {
  const labelSelector = instanceSelector(release);
  const named = (kind: string, items: { metadata?: { name?: string } }[]): string[] =>
    items.map((i) => `${kind}/${i.metadata?.name ?? ''}`);
  const [deps, rss, pods, secrets, sas, roles, rbs, pdbs, crs, crbs] = await Promise.all([
    apps().listNamespacedDeployment({ namespace: ns }),
    apps().listNamespacedReplicaSet({ namespace: ns }),
    core().listNamespacedPod({ namespace: ns }),
    core().listNamespacedSecret({ namespace: ns }),
    core().listNamespacedServiceAccount({ namespace: ns }),
    rbac().listNamespacedRole({ namespace: ns }),
    rbac().listNamespacedRoleBinding({ namespace: ns }),
    policy().listNamespacedPodDisruptionBudget({ namespace: ns }),
    rbac().listClusterRole({ labelSelector }),
    rbac().listClusterRoleBinding({ labelSelector }),
  ]);
  return [
    ...named('Deployment', deps.items),
    ...named('ReplicaSet', rss.items),
    ...named('Pod', pods.items),
    ...named('Secret', secrets.items),
    ...named(
      'ServiceAccount',
      sas.items.filter((s) => s.metadata?.name !== 'default'),
    ),
    ...named('Role', roles.items),
    ...named('RoleBinding', rbs.items),
    ...named('PodDisruptionBudget', pdbs.items),
    ...named('ClusterRole', crs.items),
    ...named('ClusterRoleBinding', crbs.items),
  ].sort();
}

describe('helm install, upgrade and uninstall in the real child cluster', () => {
  const release = fresh('cnat');
  const ns = fresh('chart');
  const fullname = `${release}-clusternet-agent`;
  const clusterScoped = `clusternet-agent:${ns}:${fullname}`;

  it('refuses to install without parentURL, saying so', async () => {
    const r = await helm(['install', fresh('bad'), chartDir, '-n', ns, '--kubeconfig', kubeconfig()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('parentURL is required');
  });

  it('installs: the apiserver accepts every object, and the pod the Deployment would make', async () => {
    const out = await install(release, ns);
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain('Check the registration'); // NOTES.txt
    // …which say what uninstall leaves on purpose (the cluster's identity) and how to remove it.
    expect(out).toContain(`kubectl -n ${ns} delete secret parent-cluster`);
    expect(out).toContain(`kubectl -n ${ns} delete lease clusternet-agent`);
    const objs = await releaseObjects(release, ns);
    for (const o of [
      `Deployment/${fullname}`,
      'Secret/clusternet-agent-cluster-registration',
      'Secret/clusternet-app-deployer',
      'ServiceAccount/clusternet-agent',
      'ServiceAccount/clusternet-app-deployer',
      `Role/${fullname}`,
      `RoleBinding/${fullname}`,
      `PodDisruptionBudget/${fullname}`,
      `ClusterRole/${clusterScoped}`,
      `ClusterRoleBinding/${clusterScoped}`,
      `ClusterRoleBinding/${clusterScoped}:app-deployer`, // cluster-admin, as in the Go chart
    ])
      expect(objs).toContain(o);
    // kube-controller-manager fills the deployer's token Secret.
    const deployerToken = await eventually('the app deployer token', async () => {
      const s = await core().readNamespacedSecret({ name: 'clusternet-app-deployer', namespace: ns });
      return s.data?.token;
    });
    expect(deployerToken.length).toBeGreaterThan(0);
    // The test cluster runs no Deployment controller or kubelet: the pod the Deployment would make is
    // submitted as a server-side dry run, through validation and admission, as the ReplicaSet would.
    const d = await apps().readNamespacedDeployment({ name: fullname, namespace: ns });
    const template = d.spec?.template;
    if (template?.spec === undefined) throw new Error('the Deployment has no pod template');
    const pod = await core().createNamespacedPod({
      namespace: ns,
      dryRun: 'All',
      body: { metadata: { labels: template.metadata?.labels ?? {}, name: `${fullname}-dry-run` }, spec: template.spec },
    });
    expect(pod.spec?.serviceAccountName).toBe('clusternet-agent');
    expect(pod.spec?.containers[0]?.readinessProbe?.httpGet?.path).toBe('/healthz');
    expect(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    // The ServiceAccount admission plugin mounted the token the agent authenticates with.
    expect(pod.spec?.volumes?.some((v) => v.projected !== undefined)).toBe(true);
  });

  it('upgrades: one replica (no PDB), broad RBAC (deployer bound to cluster-admin)', async () => {
    const out = await helmOk([
      'upgrade',
      release,
      chartDir,
      '-n',
      ns,
      '--reuse-values',
      ...setJson({ replicaCount: 1, 'rbac.broad': true }),
    ]);
    expect(out).toContain('REVISION: 2');
    const d: V1Deployment = await apps().readNamespacedDeployment({ name: fullname, namespace: ns });
    expect(d.spec?.replicas).toBe(1);
    await expect(policy().readNamespacedPodDisruptionBudget({ name: fullname, namespace: ns })).rejects.toSatisfy(
      is404,
    );
    const crb = await rbac().readClusterRoleBinding({ name: `${clusterScoped}:app-deployer` });
    expect(crb.roleRef.name).toBe('cluster-admin');
    const role = await rbac().readNamespacedRole({ name: fullname, namespace: ns });
    expect(role.rules).toEqual([{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]);
  });

  it('uninstalls: nothing of the release is left, cluster-scoped objects included', async () => {
    await helmOk(['uninstall', release, '-n', ns, '--wait']);
    releases.splice(
      releases.findIndex((r) => r.name === release),
      1,
    );
    // Dependants (the token Secret's data, ReplicaSets where a controller runs) go with the garbage collector.
    const left = await eventually(
      'the release to be gone',
      async () => {
        const objs = await releaseObjects(release, ns);
        return objs.length === 0 ? objs : undefined;
      },
      { timeoutMs: 60_000 },
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\nleft: ${(await releaseObjects(release, ns)).join(', ')}`);
    });
    expect(left).toEqual([]);
    for (const name of [clusterScoped, `${clusterScoped}:app-deployer`]) {
      await expect(rbac().readClusterRoleBinding({ name })).rejects.toSatisfy(is404);
    }
    await expect(rbac().readClusterRole({ name: clusterScoped })).rejects.toSatisfy(is404);
  });
});

describe("the chart's RBAC is enough for the agent", () => {
  it("registers with a token of the chart's ServiceAccount and the Deployment's args", async () => {
    const release = fresh('cnat');
    const ns = fresh('chart-rbac');
    await install(release, ns);
    const deployment = await apps().readNamespacedDeployment({ name: `${release}-clusternet-agent`, namespace: ns });
    const secret = await core().readNamespacedSecret({ name: 'clusternet-agent-cluster-registration', namespace: ns });
    const data = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
    const vars = containerEnv(deployment as unknown as Manifest, data, ns);
    const args = (deployment.spec?.template.spec?.containers[0]?.args ?? []).map((a) => expandKubeletVars(a, vars));
    expect(args).toContain(`--leader-elect-resource-namespace=${ns}`);

    // What the kubelet would mount: a token of the pod's ServiceAccount.
    const tokenRequest = await core().createNamespacedServiceAccountToken({
      name: 'clusternet-agent',
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const saToken = tokenRequest.status?.token ?? '';
    const saKubeconfig = join(scratch, `${ns}.kubeconfig`);
    await writeFile(saKubeconfig, env.tokenKubeConfig('child', saToken).exportConfig(), { mode: 0o600 });

    const agent = AgentProcess.start([...args, `--kubeconfig=${saKubeconfig}`]);
    agents.push(agent);
    await agent.waitForState('registered', 90_000);
    // The heartbeat's reads of the child (nodes, pods, /version, health) are covered too.
    await agent.waitForLine(
      'a heartbeat report',
      (l) => (l.transition?.to ?? '').includes('reporting.settling'),
      30_000,
    );
    const stored = await core().readNamespacedSecret({ name: 'parent-cluster', namespace: ns });
    expect(Object.keys(stored.data ?? {}).sort()).toEqual(['apiserver-advertise-url', 'ca.crt', 'namespace', 'token']);
    expect(agent.raw).not.toMatch(/forbidden/i);

    // And no more than that: the same identity cannot list Secrets or read one it has no business with.
    const asAgent = env.tokenKubeConfig('child', saToken).makeApiClient(CoreV1Api);
    await expect(asAgent.listNamespacedSecret({ namespace: ns })).rejects.toSatisfy(
      (e: unknown) => e instanceof ApiException && e.code === 403,
    );
    await expect(
      asAgent.readNamespacedSecret({ name: 'clusternet-agent-cluster-registration', namespace: ns }),
    ).rejects.toSatisfy((e: unknown) => e instanceof ApiException && e.code === 403);
    await agent.stop();
  });
});

describe('the chart refuses at install what the agent would refuse at start', () => {
  it.each([
    ['extraArgs.cluster-sync-mode=Bogus', { 'extraArgs.cluster-sync-mode': 'Bogus' }, 'cluster-sync-mode'],
    ['extraArgs.cluster-reg-name=Bad_Name', { 'extraArgs.cluster-reg-name': 'Bad_Name' }, 'cluster-reg-name'],
    ['registrationToken=abc', { registrationToken: 'abc' }, 'registrationToken is malformed'],
    [
      'a lease namespace outside the release',
      { 'extraArgs.leader-elect-resource-namespace': 'kube-system' },
      'kube-system',
    ],
    ['a lease shorter than the renew deadline', { 'extraArgs.leader-elect-lease-duration': '5s' }, 'leader-elect'],
  ])('%s: helm install fails with a one-line reason and creates nothing', async (_name, values, reason) => {
    const release = fresh('bad');
    const ns = fresh('chart-bad');
    const r = await helm([...installArgs(release, ns, values), '--kubeconfig', kubeconfig()], { timeoutMs: 120_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(reason);
    expect(r.stderr).not.toContain(token.token);
    if ('registrationToken' in values) expect(r.stderr).not.toContain(': abc');
    const list = await helm(['list', '-a', '-n', ns, '-q', '--kubeconfig', kubeconfig()]);
    expect(list.stdout.trim()).toBe('');
    await expect(core().readNamespace({ name: ns })).rejects.toSatisfy(is404);
  });

  it('installs the operating values: the apiserver accepts the metrics Service, volumes, spread and moved port', async () => {
    const release = fresh('cnat');
    const ns = fresh('chart-ops');
    await install(release, ns, {
      'metrics.service.enabled': true,
      'extraArgs.secure-port': 9443,
      extraVolumes: [{ name: 'ca', configMap: { name: 'corp-ca', optional: true } }],
      extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/corp-ca', readOnly: true }],
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { 'app.kubernetes.io/instance': '{{ .Release.Name }}' } },
        },
      ],
    });
    const fullname = `${release}-clusternet-agent`;
    const svc = await core().readNamespacedService({ name: `${fullname}-metrics`, namespace: ns });
    expect(svc.spec?.ports?.[0]).toMatchObject({ name: 'https', port: 10650, targetPort: 'https' });
    const d = await apps().readNamespacedDeployment({ name: fullname, namespace: ns });
    const template = d.spec?.template;
    if (template?.spec === undefined) throw new Error('the Deployment has no pod template');
    // The Service selects the pods the Deployment makes, and the moved port is where the probes look.
    for (const [k, v] of Object.entries(svc.spec?.selector ?? {})) expect(template.metadata?.labels?.[k]).toBe(v);
    const pod = await core().createNamespacedPod({
      namespace: ns,
      dryRun: 'All',
      body: { metadata: { labels: template.metadata?.labels ?? {}, name: `${fullname}-dry-run` }, spec: template.spec },
    });
    const c = pod.spec?.containers[0];
    expect(c?.ports?.[0]?.containerPort).toBe(9443);
    expect(c?.livenessProbe?.httpGet?.port).toBe('https');
    expect(pod.spec?.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels).toEqual({
      'app.kubernetes.io/instance': release,
    });
    expect(c?.volumeMounts?.some((m) => m.mountPath === '/etc/corp-ca')).toBe(true);
  });
});
