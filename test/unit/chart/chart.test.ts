// The chart rendered by the real helm binary: lint, required values, the Deployment's args, env, probes
// and hardening, the Secret, RBAC (minimal and broad), presets and the schema's rejections.

import { describe, expect, it } from 'vitest';
import { chartDir, ciValues, find, get, helm, render, setJson, type Manifest } from '../../chart/helm.ts';
import { agentContainer, podSpec, rules, type PolicyRule } from '../../chart/shapes.ts';

const token = '07401b.f395accd246ae52d';
const parentURL = 'https://192.168.10.10:6443';

/** helm template's failure message for these values (the render must fail). */
async function renderError(values: Record<string, unknown>, withCi = true): Promise<string> {
  const r = await helm([
    'template',
    'agent',
    chartDir,
    '-n',
    'clusternet-system',
    ...(withCi ? ['-f', ciValues] : []),
    ...setJson(values),
  ]);
  expect(r.code).not.toBe(0);
  return r.stderr;
}

const allRules = (ms: Manifest[]): PolicyRule[] =>
  ms.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole').flatMap(rules);

describe('helm lint --strict', () => {
  it.each([
    ['default values', []],
    ['CI values', ['-f', ciValues]],
  ])('is clean with the %s', async (_name, args) => {
    const r = await helm(['lint', '--strict', chartDir, ...args]);
    expect(r.stdout + r.stderr).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(r.code).toBe(0);
  });
});

describe('required values', () => {
  it('fails without parentURL, naming the value and an example', async () => {
    const msg = await renderError({ registrationToken: token }, false);
    expect(msg).toContain('parentURL is required');
    expect(msg).toContain('--set parentURL=https://');
  });

  it('fails without registrationToken', async () => {
    const msg = await renderError({ parentURL }, false);
    expect(msg).toContain('registrationToken is required');
  });

  it('accepts an existing Secret instead, and renders none', async () => {
    const ms = await render({ parentURL: '', registrationToken: '', existingSecret: 'my-registration' });
    expect(find(ms, 'Secret', 'clusternet-agent-cluster-registration')).toBeUndefined();
    const refs = agentContainer(get(ms, 'Deployment')).env.flatMap((e) =>
      e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
    );
    expect(refs).toEqual([
      { name: 'my-registration', key: 'parentURL' },
      { name: 'my-registration', key: 'regToken' },
    ]);
  });
});

describe('default rendering (CI values)', () => {
  it('renders the Secret with the Go chart name and keys', async () => {
    const secret = get(await render(), 'Secret', 'clusternet-agent-cluster-registration') as Manifest & {
      stringData: Record<string, string>;
    };
    expect(secret.metadata.namespace).toBe('clusternet-system');
    expect(secret.stringData).toEqual({ parentURL, regToken: token });
  });

  it('renders the Go chart args in order, env from the Secret and the downward API', async () => {
    const ms = await render();
    const d = get(ms, 'Deployment', 'agent-clusternet-agent');
    expect((d as unknown as { spec: { replicas: number } }).spec.replicas).toBe(3);
    const c = agentContainer(d);
    expect(c.args).toEqual([
      '--cluster-reg-token=$(REG_TOKEN)',
      '--cluster-reg-parent-url=$(PARENT_URL)',
      '--leader-elect=true',
      '--leader-elect-resource-namespace=$(AGENT_NAMESPACE)',
      '--feature-gates=SocketConnection=true,AppPusher=true,Recovery=true,Predictor=true',
      '--kube-api-burst=100',
      '--kube-api-qps=50.0',
      '--secure-port=10650',
      '--cluster-sync-mode=Dual',
      '--predictor-direct-access=false',
      '--predictor-port=8080',
      '--use-metrics-server=false',
    ]);
    expect(c.env).toEqual([
      {
        name: 'PARENT_URL',
        valueFrom: { secretKeyRef: { name: 'clusternet-agent-cluster-registration', key: 'parentURL' } },
      },
      {
        name: 'REG_TOKEN',
        valueFrom: { secretKeyRef: { name: 'clusternet-agent-cluster-registration', key: 'regToken' } },
      },
      { name: 'AGENT_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'HELM_CACHE_HOME', value: '/var/lib/clusternet-agent/helm/cache' },
      { name: 'HELM_CONFIG_HOME', value: '/var/lib/clusternet-agent/helm/config' },
      { name: 'HELM_DATA_HOME', value: '/var/lib/clusternet-agent/helm/data' },
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --max-old-space-size-percentage=50' },
    ]);
    expect(c.image).toBe('clusternet-agent-ts:v0.1.0');
    expect(podSpec(d).serviceAccountName).toBe('clusternet-agent');
  });

  it('probes /livez and /healthz over HTTPS on the secure port; requests resources; hardens the pod', async () => {
    const d = get(await render(), 'Deployment');
    const c = agentContainer(d);
    expect(c.ports).toEqual([{ name: 'https', containerPort: 10650, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/livez', port: 'https', scheme: 'HTTPS' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(c.livenessProbe?.failureThreshold).toBe(6);
    // The request follows bench:memory's registered idle leader, the limit leaves room for bursts (docs/memory.md).
    expect(c.resources?.requests).toEqual({ cpu: '50m', memory: '160Mi' });
    expect(c.resources?.limits).toEqual({ memory: '512Mi' });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(podSpec(d).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    // helm (HelmReleases) writes only under an emptyDir, where its HELM_*_HOME point.
    const spec = podSpec(d) as { volumes?: { name: string; emptyDir?: unknown }[] };
    expect(spec.volumes?.find((v) => v.name === 'helm')?.emptyDir).toEqual({ sizeLimit: '512Mi' });
    const mounts = (c as { volumeMounts?: { name: string; mountPath: string }[] }).volumeMounts;
    expect(mounts).toContainEqual({ name: 'helm', mountPath: '/var/lib/clusternet-agent/helm' });
    const helmHomes = (c.env as { name: string; value?: string }[]).filter((e) => e.name.startsWith('HELM_'));
    expect(helmHomes.map((e) => e.value?.startsWith('/var/lib/clusternet-agent/helm/'))).toEqual([true, true, true]);
  });

  it('moves the probes with securePort, and drops port and probes when it is 0', async () => {
    const moved = agentContainer(get(await render({ securePort: 9443 }), 'Deployment'));
    expect(moved.args).toContain('--secure-port=9443');
    expect(moved.ports?.[0]?.containerPort).toBe(9443);
    const off = agentContainer(get(await render({ securePort: 0 }), 'Deployment'));
    expect(off.args).toContain('--secure-port=0');
    expect(off.ports).toBeUndefined();
    expect(off.livenessProbe).toBeUndefined();
    expect(off.readinessProbe).toBeUndefined();
  });

  it('renders a PodDisruptionBudget only with more than one replica', async () => {
    const pdb = get(await render(), 'PodDisruptionBudget') as Manifest & { spec: Record<string, unknown> };
    expect(pdb.spec).toMatchObject({ minAvailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect(find(await render({ replicaCount: 1 }), 'PodDisruptionBudget')).toBeUndefined();
    expect(find(await render({ 'podDisruptionBudget.enabled': false }), 'PodDisruptionBudget')).toBeUndefined();
    const pct = get(
      await render({ 'podDisruptionBudget.maxUnavailable': '50%' }),
      'PodDisruptionBudget',
    ) as Manifest & {
      spec: Record<string, unknown>;
    };
    expect(pct.spec.maxUnavailable).toBe('50%');
    expect(pct.spec.minAvailable).toBeUndefined();
  });
});

describe('RBAC', () => {
  it('minimal by default: only what the agent uses, no wildcard; the app deployer is cluster-admin as in the Go chart', async () => {
    const ms = await render();
    const role = get(ms, 'Role', 'agent-clusternet-agent');
    expect(role.metadata.namespace).toBe('clusternet-system');
    expect(rules(role)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: ['clusternet-agent', 'self-cluster'],
        verbs: ['get', 'list', 'watch', 'update', 'patch'],
      },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['parent-cluster', 'clusternet-app-deployer'],
        verbs: ['get', 'update'],
      },
      { apiGroups: [''], resources: ['serviceaccounts'], resourceNames: ['clusternet-app-deployer'], verbs: ['get'] },
    ]);
    const cr = get(ms, 'ClusterRole', 'clusternet-agent:clusternet-system:agent-clusternet-agent');
    expect(rules(cr)).toEqual([
      { apiGroups: [''], resources: ['nodes', 'pods'], verbs: ['get', 'list', 'watch'] },
      { nonResourceURLs: ['/version', '/healthz', '/livez', '/readyz'], verbs: ['get'] },
    ]);
    for (const r of allRules(ms)) {
      expect([...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs, ...(r.nonResourceURLs ?? [])]).not.toContain(
        '*',
      );
    }
    type Binding = Manifest & { roleRef: { name: string }; subjects: unknown[] };
    const bindings = ms.filter((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding') as Binding[];
    const deployer = bindings.filter((b) => b.roleRef.name === 'cluster-admin');
    expect(deployer.map((b) => b.subjects)).toEqual([
      [{ kind: 'ServiceAccount', name: 'clusternet-app-deployer', namespace: 'clusternet-system' }],
    ]);
    for (const b of bindings.filter((x) => !deployer.includes(x))) {
      expect(b.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'clusternet-agent', namespace: 'clusternet-system' },
      ]);
    }
    // appDeployer.clusterRole='' binds nothing to the deployer.
    const none = await render({ appDeployer: { clusterRole: '' } });
    expect(none.filter((m) => m.kind === 'ClusterRoleBinding').map((m) => m.metadata.name)).not.toContain(
      'clusternet-agent:clusternet-system:agent-clusternet-agent:app-deployer',
    );
  });

  it('follows the lease name, --use-metrics-server and the MultiClusterService gate', async () => {
    const ms = await render({
      extraArgs: { 'leader-elect-resource-name': 'my-lease', 'use-metrics-server': true },
      featureGates: 'MultiClusterService=true',
    });
    const r = allRules(ms);
    expect(r).toContainEqual(expect.objectContaining({ resourceNames: ['my-lease', 'self-cluster'] }));
    expect(r).toContainEqual({ apiGroups: ['metrics.k8s.io'], resources: ['nodes', 'pods'], verbs: ['get', 'list'] });
    expect(r).toContainEqual(expect.objectContaining({ apiGroups: ['multicluster.x-k8s.io'] }));
    const without = allRules(await render());
    expect(without.flatMap((x) => x.apiGroups ?? [])).not.toContain('metrics.k8s.io');
    expect(without.flatMap((x) => x.apiGroups ?? [])).not.toContain('multicluster.x-k8s.io');
  });

  it("rbac.broad grants the Go chart's RBAC: namespace admin, all non-resource URLs, deployer cluster-admin", async () => {
    const ms = await render({ 'rbac.broad': true });
    expect(rules(get(ms, 'Role'))).toEqual([{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]);
    expect(rules(get(ms, 'ClusterRole'))).toContainEqual({ nonResourceURLs: ['*'], verbs: ['*'] });
    const deployer = get(
      ms,
      'ClusterRoleBinding',
      'clusternet-agent:clusternet-system:agent-clusternet-agent:app-deployer',
    );
    expect(deployer).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'clusternet-app-deployer', namespace: 'clusternet-system' }],
    });
  });

  it('binds the app deployer to a chosen ClusterRole; renders its token Secret from Kubernetes 1.24', async () => {
    const ms = await render({ 'appDeployer.clusterRole': 'edit' });
    expect(
      get(ms, 'ClusterRoleBinding', 'clusternet-agent:clusternet-system:agent-clusternet-agent:app-deployer'),
    ).toMatchObject({
      roleRef: { name: 'edit' },
    });
    expect(get(ms, 'Secret', 'clusternet-app-deployer')).toMatchObject({
      type: 'kubernetes.io/service-account-token',
      metadata: { annotations: { 'kubernetes.io/service-account.name': 'clusternet-app-deployer' } },
    });
    const old = await render({ kubeVersion: 'v1.23.5' });
    expect(find(old, 'Secret', 'clusternet-app-deployer')).toBeUndefined();
    // Before 1.24 the token Secret has a generated name: reading secrets cannot be limited by name.
    expect(rules(get(old, 'Role'))).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get', 'update'],
    });
  });

  it('rbac.create=false and serviceAccount.create=false render neither', async () => {
    const ms = await render({ 'rbac.create': false, 'serviceAccount.create': false, 'appDeployer.create': false });
    expect(ms.map((m) => m.kind).sort()).toEqual(['Deployment', 'PodDisruptionBudget', 'Secret']);
  });
});

describe('affinity presets', () => {
  const affinity = async (values: Record<string, unknown>): Promise<Record<string, unknown> | undefined> =>
    podSpec(get(await render(values), 'Deployment')).affinity;
  const term = {
    labelSelector: {
      matchLabels: { 'app.kubernetes.io/name': 'clusternet-agent', 'app.kubernetes.io/instance': 'agent' },
    },
    namespaces: ['clusternet-system'],
    topologyKey: 'kubernetes.io/hostname',
  };

  it('default: soft pod anti-affinity only', async () => {
    expect(await affinity({})).toEqual({
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ podAffinityTerm: term, weight: 1 }] },
    });
  });

  it('hard anti-affinity, soft affinity, hard and soft node affinity', async () => {
    expect(await affinity({ podAntiAffinityPreset: 'hard', podAffinityPreset: 'soft' })).toEqual({
      podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ podAffinityTerm: term, weight: 1 }] },
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] },
    });
    const expr = { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] };
    const node = { type: 'hard', key: expr.key, values: expr.values };
    expect(await affinity({ podAntiAffinityPreset: '', nodeAffinityPreset: node })).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [expr] }] },
      },
    });
    expect(await affinity({ podAntiAffinityPreset: '', nodeAffinityPreset: { ...node, type: 'soft' } })).toEqual({
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ preference: { matchExpressions: [expr] }, weight: 1 }],
      },
    });
  });

  it('no presets: no affinity', async () => {
    expect(await affinity({ podAntiAffinityPreset: '' })).toBeUndefined();
  });

  it('an explicit affinity replaces every preset', async () => {
    const explicit = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'role', operator: 'Exists' }] }],
        },
      },
    };
    expect(
      await affinity({
        affinity: explicit,
        podAffinityPreset: 'hard',
        podAntiAffinityPreset: 'hard',
        nodeAffinityPreset: { type: 'hard', key: 'k', values: ['v'] },
      }),
    ).toEqual(explicit);
  });
});

describe('other values', () => {
  it('applies names, labels, scheduling, image and network values', async () => {
    const ms = await render(
      {
        fullnameOverride: 'cn-agent',
        commonLabels: { team: 'infra' },
        commonAnnotations: { owner: 'me' },
        image: {
          registry: 'registry.example',
          repository: 'x/agent',
          tag: 'v9',
          pullPolicy: 'Always',
          pullSecrets: ['pull'],
        },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
        priorityClassName: 'system-cluster-critical',
        hostNetwork: true,
        extraEnv: [{ name: 'SERVICE_CIDR', value: '10.96.0.0/12' }],
      },
      { release: 'r1' },
    );
    const d = get(ms, 'Deployment', 'cn-agent');
    for (const m of ms) {
      expect(m.metadata.labels).toMatchObject({ team: 'infra', 'app.kubernetes.io/instance': 'r1' });
      expect(m.metadata.annotations).toMatchObject({ owner: 'me' });
    }
    const spec = podSpec(d);
    expect(agentContainer(d)).toMatchObject({ image: 'registry.example/x/agent:v9', imagePullPolicy: 'Always' });
    expect(spec.imagePullSecrets).toEqual([{ name: 'pull' }]);
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(spec.tolerations).toHaveLength(1);
    expect(spec.priorityClassName).toBe('system-cluster-critical');
    expect(spec).toMatchObject({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' });
    expect(agentContainer(d).env.at(-1)).toEqual({ name: 'SERVICE_CIDR', value: '10.96.0.0/12' });
  });

  it('names objects <release>-clusternet-agent unless the release name contains the chart name', async () => {
    expect(get(await render({}, { release: 'clusternet-agent' }), 'Deployment').metadata.name).toBe('clusternet-agent');
    expect(get(await render({}, { release: 'edge' }), 'Deployment').metadata.name).toBe('edge-clusternet-agent');
  });

  it('merges featureGates and extraArgs.feature-gates gate by gate; renders lists, booleans and numbers', async () => {
    const c = agentContainer(
      get(
        await render({
          featureGates: 'SocketConnection=true,AppPusher=true,Recovery=true',
          extraArgs: {
            'feature-gates': 'AppPusher=false,MultiClusterService=true',
            'labels-aggregate-prefix': ['a.io/', 'b.io/'],
            'use-metrics-server': false,
            'labels-aggregate-threshold': 0.5,
            'predictor-port': 8080,
            'cluster-sync-mode': 'Pull',
          },
          kubeAPI: { burst: 200, qps: 75.5 },
          leaderElect: false,
        }),
        'Deployment',
      ),
    );
    expect(c.args.slice(2)).toEqual([
      '--leader-elect=false',
      '--leader-elect-resource-namespace=$(AGENT_NAMESPACE)',
      '--feature-gates=SocketConnection=true,AppPusher=false,Recovery=true,MultiClusterService=true',
      '--kube-api-burst=200',
      '--kube-api-qps=75.5',
      '--secure-port=10650',
      '--cluster-sync-mode=Pull',
      '--labels-aggregate-prefix=a.io/',
      '--labels-aggregate-prefix=b.io/',
      '--labels-aggregate-threshold=0.5',
      '--predictor-direct-access=false', // values merge: the default extraArgs stay unless set to null
      '--predictor-port=8080',
      '--use-metrics-server=false',
    ]);
  });
});

describe('values.schema.json', () => {
  it.each([
    ['an unknown key', { replicas: 2 }, "additional properties 'replicas'"],
    ['a mistyped replicaCount', { replicaCount: 'three' }, '/replicaCount'],
    ['an unknown flag in extraArgs', { extraArgs: { 'no-such-flag': 1 } }, "'no-such-flag' not allowed"],
    ['a flag that makes the agent print and exit', { extraArgs: { version: 'json' } }, "'version' not allowed"],
    ['a mistyped bool flag', { extraArgs: { 'use-metrics-server': 'yes' } }, '/extraArgs/use-metrics-server'],
    [
      'a bad duration',
      { extraArgs: { 'cluster-status-update-frequency': '3 minutes' } },
      'cluster-status-update-frequency',
    ],
    ['an unknown preset', { podAntiAffinityPreset: 'medium' }, '/podAntiAffinityPreset'],
    ['a node preset without key', { nodeAffinityPreset: { type: 'hard', key: '', values: [] } }, '/nodeAffinityPreset'],
    ['a parentURL that is no URL', { parentURL: 'not a url' }, '/parentURL'],
    ['a pull policy typo', { image: { pullPolicy: 'IfNotPresnt' } }, '/image/pullPolicy'],
    ['a mistyped probe field', { livenessProbe: { periodSeconds: '10s' } }, '/livenessProbe/periodSeconds'],
  ])('rejects %s', async (_name, values, message) => {
    const msg = await renderError(values);
    expect(msg).toContain("values don't meet the specifications of the schema");
    expect(msg).toContain(message);
  });

  it("accepts what Clusternet's charts accept: global, chart-set flags again in extraArgs, klog's v0.7.0 spellings", async () => {
    const c = agentContainer(
      get(
        await render({
          global: { imageRegistry: 'registry.example:5000', imagePullSecrets: ['pull'], storageClass: 'x' },
          extraArgs: { 'kube-api-qps': 20, 'leader-elect': false, log_dir: '/tmp/logs', stderrthreshold: 2 },
        }),
        'Deployment',
      ),
    );
    expect(c.image).toBe('registry.example:5000/clusternet-agent-ts:v0.1.0');
    // Rendered after the chart's own: the last occurrence of a flag wins in the agent's parser.
    const args = c.args.join(' ');
    expect(args).toMatch(/--kube-api-qps=50\.0 .*--kube-api-qps=20/);
    expect(args).toMatch(/--leader-elect=true .*--leader-elect=false/);
    expect(c.args).toContain('--log_dir=/tmp/logs');
    expect(c.args).toContain('--stderrthreshold=2');
  });

  it('never echoes the registration token in a schema error', async () => {
    const secret = 'abcdef.0123456789abcdef';
    const msg = await renderError({ registrationToken: secret, replicaCount: 'x' });
    expect(msg).not.toContain(secret);
  });
});
