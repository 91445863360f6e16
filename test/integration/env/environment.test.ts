// The parent + child environment itself: real apiservers at the pinned version, admin and
// bootstrap-token authentication, CRDs, kube-controller-manager's token controller, and faults.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import {
  ApiException,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  VersionApi,
  type KubeConfig,
  type V1Secret,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../env/eventually.ts';
import { httpGet } from '../../env/net.ts';
import { clusterNames } from '../../env/environment.ts';
import { deleteBootstrapToken } from '../../env/fixtures.ts';
import { testEnv } from '../../env/vitest-env.ts';

const versions = JSON.parse(readFileSync(new URL('../../env/versions.json', import.meta.url), 'utf8')) as {
  kubernetes: string;
};

const statusOf = async (p: Promise<unknown>): Promise<number | string> =>
  p.then(
    () => 200,
    (err: unknown) => (err instanceof ApiException ? err.code : String(err)),
  );

async function whoami(kc: KubeConfig): Promise<{ username: string; groups: string[] }> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
  return { username: review.status?.userInfo?.username ?? '', groups: review.status?.userInfo?.groups ?? [] };
}

/** A new token Secret reaches the apiserver's bootstrap authenticator through its cache: wait for it. */
async function whoamiOnce(kc: KubeConfig): Promise<{ username: string; groups: string[] }> {
  return eventually('the new bootstrap token to be accepted', () => whoami(kc));
}

describe.each(clusterNames)('%s apiserver', (cluster) => {
  it('answers /readyz with ok over TLS verified against its own CA', async () => {
    const env = testEnv();
    const r = await httpGet(`${env.server(cluster)}/readyz`, { ca: env.caPem(cluster) });
    expect(r).toEqual({ status: 200, body: 'ok' });
  });

  it('reports the pinned Kubernetes version on /version', async () => {
    const env = testEnv();
    const r = await httpGet(`${env.server(cluster)}/version`, { ca: env.caPem(cluster) });
    const v = JSON.parse(r.body) as { gitVersion: string; major: string; minor: string; platform: string };
    expect(v.gitVersion).toBe(versions.kubernetes);
    expect(env.kubernetesVersion).toBe(versions.kubernetes);
    expect(`v${v.major}.${v.minor}`).toBe(versions.kubernetes.split('.').slice(0, 2).join('.'));
    expect(v.platform).toMatch(/^linux\//);
    const viaClient = await env.adminClient(cluster, VersionApi).getCode();
    expect(viaClient.gitVersion).toBe(versions.kubernetes);
  });

  it('does not trust the other cluster’s CA', async () => {
    const env = testEnv();
    const other = cluster === 'parent' ? 'child' : 'parent';
    await expect(httpGet(`${env.server(cluster)}/readyz`, { ca: env.caPem(other) })).rejects.toThrow(
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  it('authenticates the admin kubeconfig as system:masters', async () => {
    const env = testEnv();
    const me = await whoami(env.adminKubeConfig(cluster));
    expect(me.username).toBe('test-admin');
    expect(me.groups).toContain('system:masters');
    const namespaces = await env.adminClient(cluster, CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system', 'kube-public']),
    );
  });
});

describe('two separate clusters', () => {
  it('keep separate state', async () => {
    const env = testEnv();
    const name = `only-in-parent-${Date.now().toString(36)}`;
    await env.adminClient('parent', CoreV1Api).createNamespace({ body: { metadata: { name } } });
    expect(await statusOf(env.adminClient('parent', CoreV1Api).readNamespace({ name }))).toBe(200);
    expect(await statusOf(env.adminClient('child', CoreV1Api).readNamespace({ name }))).toBe(404);
  });
});

describe('bootstrap tokens', () => {
  it('authenticate as system:bootstrap:<id> in group system:bootstrappers plus extra groups', async () => {
    const env = testEnv();
    const token = await env.createBootstrapToken('parent', {
      extraGroups: ['system:bootstrappers:clusternet:register-cluster-token'],
    });
    const me = await whoamiOnce(env.tokenKubeConfig('parent', token.token));
    expect(me.username).toBe(`system:bootstrap:${token.id}`);
    expect(me.groups).toEqual(
      expect.arrayContaining([
        'system:bootstrappers',
        'system:bootstrappers:clusternet:register-cluster-token',
        'system:authenticated',
      ]),
    );
  });

  it('may do only what system:bootstrappers is granted', async () => {
    const env = testEnv();
    await env.installClusternetCrds();
    // A group of its own: other test files grant Clusternet's registration group on the shared parent.
    const token = await env.createBootstrapToken('parent', {
      extraGroups: [`system:bootstrappers:env-test-${randomUUID().slice(0, 8)}`],
    });
    const kc = env.tokenKubeConfig('parent', token.token);
    await whoamiOnce(kc); // authenticated, so the 403s below are authorization, not a cold cache
    const clusterId = randomUUID();
    const crr = {
      apiVersion: 'clusters.clusternet.io/v1beta1',
      kind: 'ClusterRegistrationRequest',
      metadata: { name: `clusternet-${clusterId}` },
      spec: { clusterId, clusterType: 'EdgeCluster', syncMode: 'Pull' },
    };
    const createCrr = () =>
      kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
        group: 'clusters.clusternet.io',
        version: 'v1beta1',
        plural: 'clusterregistrationrequests',
        body: crr,
      });
    // Nothing beyond discovery by default.
    expect(await statusOf(kc.makeApiClient(CoreV1Api).listNamespace())).toBe(403);
    expect(await statusOf(kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'kube-system' }))).toBe(403);
    expect(await statusOf(createCrr())).toBe(403);

    // Grant what Clusternet's hub chart grants the registration group, and only that.
    const rbac = env.adminClient('parent', RbacAuthorizationV1Api);
    const role = `clusternet:system:bootstrapping-${token.id}`;
    await rbac.createClusterRole({
      body: {
        metadata: { name: role },
        rules: [
          {
            apiGroups: ['clusters.clusternet.io'],
            resources: ['clusterregistrationrequests'],
            verbs: ['create', 'get'],
          },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'User', name: `system:bootstrap:${token.id}`, apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    const review = await eventually('RBAC to take effect', async () => {
      const r = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              group: 'clusters.clusternet.io',
              resource: 'clusterregistrationrequests',
              verb: 'create',
            },
          },
        },
      });
      return r.status?.allowed === true ? r : undefined;
    });
    expect(review.status?.allowed).toBe(true);
    expect(await statusOf(createCrr())).toBe(200);
    expect(await statusOf(kc.makeApiClient(CoreV1Api).listNamespace())).toBe(403);
  });

  it('stop working once deleted', async () => {
    const env = testEnv();
    const token = await env.createBootstrapToken('child');
    expect((await whoamiOnce(env.tokenKubeConfig('child', token.token))).username).toBe(`system:bootstrap:${token.id}`);
    await deleteBootstrapToken(env.adminKubeConfig('child'), token);
    await eventually('the deleted token to be rejected', async () =>
      (await statusOf(whoami(env.tokenKubeConfig('child', token.token)))) === 401 ? true : undefined,
    );
  });

  it('stop working when they expire, and only with the right secret', async () => {
    const env = testEnv();
    const token = await env.createBootstrapToken('child', { ttlSeconds: 15 });
    const kc = env.tokenKubeConfig('child', token.token);
    expect((await whoamiOnce(kc)).username).toBe(`system:bootstrap:${token.id}`);
    // Same, live token id with another secret: refused.
    expect(await statusOf(whoami(env.tokenKubeConfig('child', `${token.id}.${'0'.repeat(16)}`)))).toBe(401);
    await eventually('the token to expire', async () => ((await statusOf(whoami(kc))) === 401 ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
  });
});

describe('Clusternet CRDs', () => {
  it('are Established in the parent and absent from the child', async () => {
    const env = testEnv();
    const names = await env.installClusternetCrds();
    expect(names).toHaveLength(5);
    const parent = env.adminClient('parent', CustomObjectsApi);
    const list: unknown = await parent.listClusterCustomObject({
      group: 'clusters.clusternet.io',
      version: 'v1beta1',
      plural: 'managedclusters',
    });
    expect(list).toHaveProperty('items');
    expect(
      await statusOf(
        env.adminClient('child', CustomObjectsApi).listClusterCustomObject({
          group: 'clusters.clusternet.io',
          version: 'v1beta1',
          plural: 'managedclusters',
        }),
      ),
    ).toBe(404);
  });

  it('are served with their schemas: an invalid object is rejected', async () => {
    const env = testEnv();
    await env.installClusternetCrds();
    const create = env.adminClient('parent', CustomObjectsApi).createClusterCustomObject({
      group: 'clusters.clusternet.io',
      version: 'v1beta1',
      plural: 'clusterregistrationrequests',
      body: {
        apiVersion: 'clusters.clusternet.io/v1beta1',
        kind: 'ClusterRegistrationRequest',
        metadata: { name: 'clusternet-invalid' },
        spec: { clusterId: 'x', syncMode: 'Sideways' },
      },
    });
    expect(await statusOf(create)).toBe(422);
  });
});

/**
 * A new namespace with ServiceAccount `demo` and a token Secret for it, and that Secret once
 * kube-controller-manager's token controller has filled it.
 */
async function tokenSecret(core: CoreV1Api, namespace: string, timeoutMs?: number): Promise<V1Secret> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'demo' } } });
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'demo', annotations: { 'kubernetes.io/service-account.name': 'demo' } },
      type: 'kubernetes.io/service-account-token',
    },
  });
  return eventually<V1Secret>(
    'the token controller',
    async () => {
      const s = await core.readNamespacedSecret({ name: 'demo', namespace });
      return s.data?.token !== undefined && s.data['ca.crt'] !== undefined ? s : undefined;
    },
    timeoutMs === undefined ? {} : { timeoutMs },
  );
}

describe('kube-controller-manager', () => {
  it('fills a service-account token Secret whose token authenticates as that ServiceAccount', async () => {
    const env = testEnv();
    const core = env.adminClient('parent', CoreV1Api);
    const namespace = `kcm-${Date.now().toString(36)}`;
    const secret = await tokenSecret(core, namespace);
    const decode = (k: string): string => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
    expect(decode('ca.crt')).toBe(env.caPem('parent'));
    expect(decode('namespace')).toBe(namespace);
    expect((await whoami(env.tokenKubeConfig('parent', decode('token')))).username).toBe(
      `system:serviceaccount:${namespace}:demo`,
    );
  });

  it('creates the default ServiceAccount of a new namespace and finishes namespace deletion', async () => {
    const env = testEnv();
    const core = env.adminClient('child', CoreV1Api);
    const name = `gc-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name } } });
    await eventually('default ServiceAccount', async () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: name }),
    );
    await core.deleteNamespace({ name });
    await eventually('namespace deletion', async () =>
      (await statusOf(core.readNamespace({ name }))) === 404 ? true : undefined,
    );
  });
});

describe('component faults', () => {
  it('a stopped child apiserver is seen by a client, and serves again (with its data) after restart', async () => {
    const env = testEnv();
    const core = env.adminClient('child', CoreV1Api);
    const name = `survivor-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name } } });

    let started;
    try {
      const stopped = await env.component('child', 'kube-apiserver').stop();
      expect(stopped.state).toBe('stopped');
      await expect(core.listNamespace()).rejects.toThrow(/ECONNREFUSED|fetch failed|connect/i);
      // The parent is unaffected.
      expect(await statusOf(env.adminClient('parent', CoreV1Api).listNamespace())).toBe(200);
    } finally {
      started = await env.component('child', 'kube-apiserver').start();
    }
    expect(started.state).toBe('running');
    expect(await statusOf(core.readNamespace({ name }))).toBe(200);
  });

  it('after an apiserver outage the controllers act again at once (the next test finds a working cluster)', async () => {
    const env = testEnv();
    const core = env.adminClient('child', CoreV1Api);
    // Long enough for kube-controller-manager's informers to back off (client-go's reflector: up to 30 s
    // with jitter), as after the parent outages of the log-volume and heartbeat tests.
    await env.component('child', 'kube-apiserver').stop();
    try {
      await sleep(40_000);
    } finally {
      await env.component('child', 'kube-apiserver').start();
    }
    // The token controller fills a new Secret as it does in a settled cluster, not after the back-off.
    await tokenSecret(core, `kcm-after-${Date.now().toString(36)}`, 15_000);
  }, 180_000);

  it('a paused apiserver accepts connections but answers nothing until resumed', async () => {
    const env = testEnv();
    const ca = env.caPem('child');
    await env.component('child', 'kube-apiserver').pause();
    try {
      await expect(httpGet(`${env.server('child')}/readyz`, { ca, timeoutMs: 1500 })).rejects.toThrow(/timed out/);
      const st = await env.status();
      expect(st.child.find((c) => c.name === 'child/kube-apiserver')?.state).toBe('paused');
    } finally {
      await env.component('child', 'kube-apiserver').resume();
    }
    expect(await httpGet(`${env.server('child')}/readyz`, { ca })).toEqual({ status: 200, body: 'ok' });
  });

  it('a killed etcd makes the apiserver unready until etcd is back', async () => {
    const env = testEnv();
    const ca = env.caPem('child');
    await env.component('child', 'etcd').kill();
    try {
      // With etcd gone, /readyz answers only after its etcd checks time out (about 4 s).
      await eventually('readyz to fail', async () => {
        const r = await httpGet(`${env.server('child')}/readyz`, { ca, timeoutMs: 15_000 });
        return r.status !== 200 ? r : undefined;
      });
    } finally {
      await env.component('child', 'etcd').start();
    }
    await eventually(
      'readyz to recover',
      async () => {
        const r = await httpGet(`${env.server('child')}/readyz`, { ca, timeoutMs: 15_000 });
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(await statusOf(env.adminClient('child', CoreV1Api).listNamespace())).toBe(200);
  });

  it('a restarted kube-controller-manager gets a new process and keeps working', async () => {
    const env = testEnv();
    const before = (await env.status()).parent.find((c) => c.name === 'parent/kube-controller-manager');
    const after = await env.component('parent', 'kube-controller-manager').restart();
    expect(after.state).toBe('running');
    expect(after.pid).not.toBe(before?.pid);
    expect(after.restarts).toBe((before?.restarts ?? 0) + 1);
  });
});
