// HelmReleases against the real parent and child apiservers, applied by the real helm binary (the one
// the test environment builds) from a real chart repository served on loopback by this test: an
// index.yaml built by `helm repo index` and the tiny chart in test/fixtures/helm-charts packaged by
// `helm package`, one copy open and one behind basic auth.

import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type V1ConfigMap } from '@kubernetes/client-node';
import type { Actor } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizer, type Description } from '../../../machines/deployer/decisions.ts';
import type { HelmRelease, HelmReleaseSpec } from '../../../machines/deployer/helm-releases.ts';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { helm, helmBinary } from '../../chart/helm.ts';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { absent, eventsAbout, startDeployer, type RegisteredCluster } from '../helpers/deployer-harness.ts';

const env = testEnv();
const suffix = randomBytes(3).toString('hex');
/** Created by helm (createNamespace defaults to true). */
const targetNs = `helm-apps-${suffix}`;
const chartSource = fileURLToPath(new URL('../../fixtures/helm-charts/hello', import.meta.url));
const user = 'charts';
const password = `pw-${randomBytes(8).toString('hex')}`;

const group = 'apps.clusternet.io';
const version = 'v1alpha1';
const parentObjects = () => env.adminClient('parent', CustomObjectsApi);
/** The coordinates of a kind of apps.clusternet.io in the dedicated namespace. */
const inDedicated = (plural: string, namespace = ns()) => ({ group, version, namespace, plural });
const childCore = () => env.adminClient('child', CoreV1Api);

let approver: TestApprover;
const actors: Actor<typeof deployerMachine>[] = [];
let cluster: RegisteredCluster;
let logPath = '';
let scratch = '';
let server: Server | undefined;
let repoUrl = '';
/** Requests the repository answered 401 (no or wrong credentials). */
let refused = 0;
const ns = (): string => cluster.dedicatedNamespace;

/** Serves `<scratch>/repo` at /open/ and, with basic auth, at /private/. */
async function serveRepository(dir: string): Promise<string> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/(open|private)\/([\w.-]+)$/.exec(url.pathname);
    if (m === null) {
      res.writeHead(404).end();
      return;
    }
    if (m[1] === 'private' && req.headers.authorization !== expected) {
      refused++;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' }).end();
      return;
    }
    readFile(join(dir, m[2] ?? '')).then(
      (body) => {
        res.writeHead(200, { 'content-type': m[2]?.endsWith('.yaml') === true ? 'text/yaml' : 'application/gzip' });
        res.end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
}

async function helmOk(args: string[]): Promise<void> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')}: ${r.stderr}`);
}

/** Where a HelmRelease takes its chart: `open` or `private` (basic auth) copy of the repository. */
const chartIn = (copy: 'open' | 'private', chart: string, chartVersion: string, releaseName: string) => ({
  repo: `${repoUrl}/${copy}`,
  chart,
  version: chartVersion,
  releaseName,
});
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');

/** A Helm Description as the controller-manager writes it (its HelmReleases are created separately). */
async function createHelmDescription(name: string, namespace = ns()): Promise<Description> {
  return (await parentObjects().createNamespacedCustomObject({
    ...inDedicated('descriptions', namespace),
    body: {
      apiVersion: `${group}/${version}`,
      kind: 'Description',
      metadata: { name, namespace, labels: { 'clusternet.io/created-by': 'clusternet-controller-manager' } },
      spec: { deployer: 'Helm', charts: [{ name: 'hello', namespace: 'default' }] },
    },
  })) as Description;
}

/** A HelmRelease owned by `owner`, as the controller-manager creates it from a Helm Description. */
async function createHelmRelease(name: string, owner: Description, spec: HelmReleaseSpec): Promise<void> {
  const namespace = owner.metadata.namespace ?? ns();
  await parentObjects().createNamespacedCustomObject({
    ...inDedicated('helmreleases', namespace),
    body: {
      apiVersion: `${group}/${version}`,
      kind: 'HelmRelease',
      metadata: {
        name,
        namespace,
        labels: {
          'apps.clusternet.io/config.kind': 'Description',
          'apps.clusternet.io/config.name': owner.metadata.name,
        },
        ownerReferences: [
          {
            apiVersion: `${group}/${version}`,
            kind: 'Description',
            name: owner.metadata.name,
            uid: owner.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { targetNamespace: targetNs, ...spec },
    },
  });
}

const readHelmRelease = async (name: string, namespace = ns()): Promise<HelmRelease> =>
  (await parentObjects().getNamespacedCustomObject({
    ...inDedicated('helmreleases', namespace),
    name,
  })) as HelmRelease;
const readDescription = async (name: string): Promise<Description> =>
  (await parentObjects().getNamespacedCustomObject({
    ...inDedicated('descriptions'),
    name,
  })) as Description;
const readConfigMap = (name: string): Promise<V1ConfigMap> =>
  childCore().readNamespacedConfigMap({ name, namespace: targetNs });
/** Names of helm's release Secrets (storage driver `secret`) for a release in the child. */
const releaseSecrets = async (release: string): Promise<string[]> =>
  (
    await childCore().listNamespacedSecret({ namespace: targetNs, labelSelector: `owner=helm,name=${release}` })
  ).items.map((s) => s.metadata?.name ?? '');

async function helmReleaseWith(name: string, what: string, ok: (hr: HelmRelease) => boolean): Promise<HelmRelease> {
  return eventually(
    `HelmRelease ${name} ${what} (log ${logPath})`,
    async () => {
      const hr = await readHelmRelease(name);
      return ok(hr) ? hr : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

beforeAll(async () => {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  // The chart repository: two versions of the fixture chart, indexed by helm.
  scratch = await mkdtemp(join(tmpdir(), 'cnat-helm-repo-'));
  const repoDir = join(scratch, 'repo');
  for (const v of ['0.1.0', '0.2.0']) await helmOk(['package', chartSource, '--version', v, '--destination', repoDir]);
  await helmOk(['repo', 'index', repoDir]);
  repoUrl = await serveRepository(repoDir);
  let actor: Actor<typeof deployerMachine>;
  ({ cluster, logPath, actor } = await startDeployer(env, 'helm', {
    syncMode: 'Pull',
    gates: '',
    extraArgs: [`--helm-binary=${helmBinary()}`],
  }));
  actors.push(actor);
}, 180_000);

afterAll(async () => {
  for (const a of actors.splice(0)) a.stop();
  await approver.stop();
  await new Promise((resolve) => server?.close(resolve));
  await rm(scratch, { recursive: true, force: true });
  await childCore()
    .deleteNamespace({ name: targetNs })
    .catch(() => undefined);
});

describe('HelmReleases in Pull mode', () => {
  it('installs a release: status deployed, version 1, owner Success, objects and release secret in the child', async () => {
    const owner = await createHelmDescription('web-helm');
    await createHelmRelease('web-helm-default-hello', owner, {
      ...chartIn('open', 'hello', '0.1.0', 'web'),
      overrides: b64({ greeting: 'hi' }),
    });
    const hr = await helmReleaseWith('web-helm-default-hello', 'deployed', (h) => h.status?.phase === 'deployed');
    expect(hr.metadata.finalizers).toContain(finalizer);
    expect(hr.status?.version).toBe(1);
    expect(hr.status?.notes).toContain('web says hi.');
    expect(hr.status?.description).toBe('Install complete');
    expect(hr.status?.lastDeployed).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? [+-]\d{4} \S+$/);
    const desc = await eventually('the owner Description Success', async () => {
      const d = await readDescription('web-helm');
      return d.status?.phase === 'Success' ? d : undefined;
    });
    expect(desc.status?.reason ?? '').toBe('');
    const cm = await readConfigMap('web-greeting');
    expect(cm.data).toEqual({ greeting: 'hi', chartVersion: '0.1.0' });
    expect(await releaseSecrets('web')).toEqual(['sh.helm.release.v1.web.v1']);
    // Events about the HelmRelease in the parent (spec §7.4 steps 1, 13).
    const reasons = await eventually('the Synced event', async () => {
      const events = await eventsAbout(env, ns(), 'web-helm-default-hello');
      return events.some((e) => e.reason === 'Synced')
        ? events.map((e) => `${e.type ?? ''}/${e.reason ?? ''}`)
        : undefined;
    });
    expect(reasons).toEqual(expect.arrayContaining(['Normal/FinalizerInjected', 'Normal/Synced']));
  });

  it('upgrades the release when the overrides change', async () => {
    const hr = await readHelmRelease('web-helm-default-hello');
    await parentObjects().replaceNamespacedCustomObject({
      ...inDedicated('helmreleases'),
      name: 'web-helm-default-hello',
      body: { ...hr, spec: { ...hr.spec, overrides: b64({ greeting: 'bonjour' }) } },
    });
    const upgraded = await helmReleaseWith(
      'web-helm-default-hello',
      'at version 2',
      (h) => h.status?.version === 2 && h.status.phase === 'deployed',
    );
    expect(upgraded.status?.description).toBe('Upgrade complete');
    expect((await readConfigMap('web-greeting')).data?.greeting).toBe('bonjour');
    expect((await releaseSecrets('web')).sort()).toEqual(['sh.helm.release.v1.web.v1', 'sh.helm.release.v1.web.v2']);
    expect((await readDescription('web-helm')).status?.phase).toBe('Success');
  });

  it('reports a chart that is not in the repository as failed, owner Failure, others unaffected', async () => {
    const owner = await createHelmDescription('bad-helm');
    await createHelmRelease('bad-helm-default-nope', owner, {
      ...chartIn('open', 'nope', '9.9.9', 'nope'),
    });
    const hr = await helmReleaseWith('bad-helm-default-nope', 'failed', (h) => h.status?.phase === 'failed');
    expect(hr.status?.notes).toMatch(/nope.*not found|not found.*nope/);
    expect(hr.status?.notes).not.toContain('\n');
    const desc = await eventually('the owner Description Failure', async () => {
      const d = await readDescription('bad-helm');
      return d.status?.phase === 'Failure' ? d : undefined;
    });
    expect(desc.status?.reason).toBe(hr.status?.notes);
    const failed = await eventually('the FailedSynced event', async () =>
      (await eventsAbout(env, ns(), 'bad-helm-default-nope')).find((e) => e.reason === 'FailedSynced'),
    );
    expect(failed.type).toBe('Warning');
    expect(failed.message).toBe(hr.status?.notes);
    // A bad version of a good chart fails the same way.
    await createHelmRelease('bad-helm-default-hello', owner, {
      ...chartIn('open', 'hello', '7.0.0', 'badversion'),
    });
    const badVersion = await helmReleaseWith('bad-helm-default-hello', 'failed', (h) => h.status?.phase === 'failed');
    expect(badVersion.status?.notes).toMatch(/7\.0\.0/);
    // The first release is untouched.
    expect((await readHelmRelease('web-helm-default-hello')).status).toMatchObject({ phase: 'deployed', version: 2 });
    expect((await readDescription('web-helm')).status?.phase).toBe('Success');
    expect(await absent(() => readConfigMap('nope-greeting'))).toBe(true);
  });

  it('with replaceCRDs, applies the chart CRDs first (helm itself leaves existing CRDs alone)', async () => {
    const crds = env.adminClient('child', ApiextensionsV1Api);
    const name = 'greetings.hello.example.test';
    // Installed by helm with the first release (crds/ of the chart); changed behind its back.
    const crd = await crds.readCustomResourceDefinition({ name });
    expect(crd.spec.names.shortNames).toEqual(['greet']);
    crd.spec.names.shortNames = ['changed'];
    await crds.replaceCustomResourceDefinition({ name, body: crd });
    expect((await crds.readCustomResourceDefinition({ name })).spec.names.shortNames).toEqual(['changed']);
    const owner = await createHelmDescription('crds-helm');
    await createHelmRelease('crds-helm-default-hello', owner, {
      ...chartIn('open', 'hello', '0.1.0', 'crds'),
      replaceCRDs: true,
    });
    await helmReleaseWith('crds-helm-default-hello', 'deployed', (h) => h.status?.phase === 'deployed');
    expect((await crds.readCustomResourceDefinition({ name })).spec.names.shortNames).toEqual(['greet']);
  });

  it('installs from a repository behind basic auth with the chartPullSecret', async () => {
    const res = await fetch(`${repoUrl}/private/index.yaml`);
    expect(res.status).toBe(401);
    const before = refused;
    // The Secret lives in the parent's dedicated namespace, read with the dedicated credentials.
    await env.adminClient('parent', CoreV1Api).createNamespacedSecret({
      namespace: ns(),
      body: {
        metadata: { name: 'chart-creds' },
        stringData: { username: user, password },
      },
    });
    const owner = await createHelmDescription('private-helm');
    await createHelmRelease('private-helm-default-hello', owner, {
      ...chartIn('private', 'hello', '0.2.0', 'private'),
      chartPullSecret: { name: 'chart-creds', namespace: ns() },
      overrides: b64({ greeting: 'psst' }),
    });
    const hr = await helmReleaseWith('private-helm-default-hello', 'deployed', (h) => h.status?.phase === 'deployed');
    expect(hr.status?.version).toBe(1);
    expect((await readConfigMap('private-greeting')).data).toEqual({ greeting: 'psst', chartVersion: '0.2.0' });
    // Every request helm made carried the credentials.
    expect(refused).toBe(before);
    // And without them the same repository is refused, with helm's message in the status.
    await createHelmRelease('private-helm-default-nocreds', owner, {
      ...chartIn('private', 'hello', '0.2.0', 'nocreds'),
    });
    const denied = await helmReleaseWith('private-helm-default-nocreds', 'failed', (h) => h.status?.phase === 'failed');
    expect(denied.status?.notes).toMatch(/401/);
    expect(denied.status?.notes).not.toContain(password);
    expect(refused).toBeGreaterThan(before);
  });

  it('uninstalls on deletion and releases the finalizer', async () => {
    await parentObjects().deleteNamespacedCustomObject({
      ...inDedicated('helmreleases'),
      name: 'web-helm-default-hello',
    });
    await eventually(
      `the HelmRelease gone (log ${logPath})`,
      () => absent(() => readHelmRelease('web-helm-default-hello')),
      { timeoutMs: 60_000 },
    );
    expect(await absent(() => readConfigMap('web-greeting'))).toBe(true);
    expect(await releaseSecrets('web')).toEqual([]);
    // The other release stays.
    expect((await readConfigMap('private-greeting')).data?.greeting).toBe('psst');
  });

  it('reports a spec it cannot use, and still uninstalls when such a HelmRelease is deleted', async () => {
    const owner = await createHelmDescription('gone-helm');
    await createHelmRelease('gone-helm-default-hello', owner, chartIn('open', 'hello', '0.2.0', 'gone'));
    const hr = await helmReleaseWith('gone-helm-default-hello', 'deployed', (h) => h.status?.phase === 'deployed');
    expect((await readConfigMap('gone-greeting')).data?.chartVersion).toBe('0.2.0');
    await parentObjects().replaceNamespacedCustomObject({
      ...inDedicated('helmreleases'),
      name: 'gone-helm-default-hello',
      body: { ...hr, spec: { ...hr.spec, overrides: Buffer.from('{not json').toString('base64') } },
    });
    const broken = await helmReleaseWith('gone-helm-default-hello', 'failed', (h) => h.status?.phase === 'failed');
    expect(broken.status?.notes).toMatch(/^spec.overrides is not JSON/);
    // The whole status is the failure (spec §7.4 step 11), as the Go agent writes it.
    expect(broken.status).toEqual({ phase: 'failed', notes: broken.status?.notes });
    await parentObjects().deleteNamespacedCustomObject({
      ...inDedicated('helmreleases'),
      name: 'gone-helm-default-hello',
    });
    await eventually(
      `the broken HelmRelease gone (log ${logPath})`,
      () => absent(() => readHelmRelease('gone-helm-default-hello')),
      { timeoutMs: 60_000 },
    );
    expect(await absent(() => readConfigMap('gone-greeting'))).toBe(true);
    expect(await releaseSecrets('gone')).toEqual([]);
  });
});

describe('HelmReleases in Dual mode with AppPusher on', () => {
  it('injects the finalizer (every sync mode) and leaves the release to the parent', async () => {
    const dual = await startDeployer(env, 'helm-dual', {
      syncMode: 'Dual',
      gates: 'AppPusher=true',
      extraArgs: [`--helm-binary=${helmBinary()}`],
    });
    actors.push(dual.actor);
    const dualNs = dual.cluster.dedicatedNamespace;
    const owner = await createHelmDescription('pushed-helm', dualNs);
    await createHelmRelease('pushed-helm-default-hello', owner, chartIn('open', 'hello', '0.1.0', 'pushed'));
    const hr = await eventually(`the finalizer on the pushed HelmRelease (log ${dual.logPath})`, async () => {
      const h = await readHelmRelease('pushed-helm-default-hello', dualNs);
      return h.metadata.finalizers?.includes(finalizer) === true ? h : undefined;
    });
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await readHelmRelease('pushed-helm-default-hello', dualNs)).status).toBeUndefined();
    expect(hr.status).toBeUndefined();
    expect(await absent(() => readConfigMap('pushed-greeting'))).toBe(true);
    expect(await releaseSecrets('pushed')).toEqual([]);
    expect(dual.actor.getSnapshot().matches('standingBy')).toBe(true);
  });
});
