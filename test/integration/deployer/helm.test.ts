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
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import type { Actor } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizer, type Description } from '../../../machines/deployer/decisions.ts';
import { configUidLabel, type HelmRelease, type HelmReleaseSpec } from '../../../machines/deployer/helm-releases.ts';
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

/**
 * The status phases an object of the dedicated namespace goes through, as a watch sees them (so the
 * short-lived ones, pending-install or uninstalling, are seen too). Stop it with `stop()`.
 */
async function phasesOf(plural: string, name: string): Promise<{ seen: string[]; stop: () => void }> {
  const seen: string[] = [];
  const controller = await new Watch(env.adminKubeConfig('parent')).watch(
    `/apis/${group}/${version}/namespaces/${ns()}/${plural}`,
    { fieldSelector: `metadata.name=${name}` },
    (_phase: string, o: { status?: { phase?: string } }) => {
      const phase = o.status?.phase;
      if (phase !== undefined && seen.at(-1) !== phase) seen.push(phase);
    },
    () => undefined,
  );
  return {
    seen,
    stop: () => {
      controller.abort();
    },
  };
}

/** A Helm Description `<name>-helm` and its HelmRelease `<name>-helm-default-hello`, deployed. */
async function deployed(name: string, spec: HelmReleaseSpec): Promise<{ owner: Description; hr: HelmRelease }> {
  const owner = await createHelmDescription(`${name}-helm`);
  await createHelmRelease(`${name}-helm-default-hello`, owner, spec);
  const hr = await helmReleaseWith(`${name}-helm-default-hello`, 'deployed', (h) => h.status?.phase === 'deployed');
  return { owner, hr };
}

async function replaceSpec(name: string, change: Partial<HelmReleaseSpec>): Promise<void> {
  const hr = await readHelmRelease(name);
  await parentObjects().replaceNamespacedCustomObject({
    ...inDedicated('helmreleases'),
    name,
    body: { ...hr, spec: { ...hr.spec, ...change } },
  });
}

describe('HelmReleases in Pull mode', () => {
  it('installs a release: pending-install then deployed, owner Installing then Success, objects and release secret in the child', async () => {
    const hrPhases = await phasesOf('helmreleases', 'web-helm-default-hello');
    const ownerPhases = await phasesOf('descriptions', 'web-helm');
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
    hrPhases.stop();
    ownerPhases.stop();
    expect(hrPhases.seen).toEqual(['pending-install', 'deployed']);
    expect(ownerPhases.seen).toEqual(['Installing', 'Success']);
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

  it('upgrades the release when the overrides change: pending-upgrade, owner Upgrading', async () => {
    await deployed('up', { ...chartIn('open', 'hello', '0.1.0', 'up'), overrides: b64({ greeting: 'hi' }) });
    const hrPhases = await phasesOf('helmreleases', 'up-helm-default-hello');
    const ownerPhases = await phasesOf('descriptions', 'up-helm');
    await replaceSpec('up-helm-default-hello', { overrides: b64({ greeting: 'bonjour' }) });
    const upgraded = await helmReleaseWith(
      'up-helm-default-hello',
      'at version 2',
      (h) => h.status?.version === 2 && h.status.phase === 'deployed',
    );
    expect(upgraded.status?.description).toBe('Upgrade complete');
    expect((await readConfigMap('up-greeting')).data?.greeting).toBe('bonjour');
    expect((await releaseSecrets('up')).sort()).toEqual(['sh.helm.release.v1.up.v1', 'sh.helm.release.v1.up.v2']);
    await eventually('the owner Success again', async () =>
      (await readDescription('up-helm')).status?.phase === 'Success' ? true : undefined,
    );
    hrPhases.stop();
    ownerPhases.stop();
    expect(hrPhases.seen.slice(-2)).toEqual(['pending-upgrade', 'deployed']);
    expect(ownerPhases.seen.slice(-2)).toEqual(['Upgrading', 'Success']);
  });

  it('reports a chart that is not in the repository as failed (ChartLocateFailure), owner Failure, others unaffected', async () => {
    const fine = await createHelmDescription('fine-helm');
    await createHelmRelease('fine-helm-default-hello', fine, chartIn('open', 'hello', '0.1.0', 'fine'));
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
    const events = await eventually('the ChartLocateFailure and FailedSynced events', async () => {
      const all = await eventsAbout(env, ns(), 'bad-helm-default-nope');
      const locate = all.find((e) => e.reason === 'ChartLocateFailure');
      const failed = all.find((e) => e.reason === 'FailedSynced');
      return locate !== undefined && failed !== undefined ? { locate, failed } : undefined;
    });
    expect(events.locate.type).toBe('Warning');
    expect(events.locate.message).toBe(hr.status?.notes);
    expect(events.failed.type).toBe('Warning');
    expect(events.failed.message).toBe(hr.status?.notes);
    // A bad version of a good chart fails the same way.
    await createHelmRelease('bad-helm-default-hello', owner, {
      ...chartIn('open', 'hello', '7.0.0', 'badversion'),
    });
    const badVersion = await helmReleaseWith('bad-helm-default-hello', 'failed', (h) => h.status?.phase === 'failed');
    expect(badVersion.status?.notes).toMatch(/7\.0\.0/);
    // The good release beside them is deployed.
    await helmReleaseWith('fine-helm-default-hello', 'deployed', (h) => h.status?.phase === 'deployed');
    expect((await readConfigMap('fine-greeting')).data?.chartVersion).toBe('0.1.0');
    expect(await absent(() => readConfigMap('nope-greeting'))).toBe(true);
  });

  it('with replaceCRDs, applies the chart CRDs first (helm itself leaves existing CRDs alone)', async () => {
    const crds = env.adminClient('child', ApiextensionsV1Api);
    const name = 'greetings.hello.example.test';
    // The chart's CRD is there once this release is (helm installs it, or replaceCRDs applies it).
    await deployed('crds', { ...chartIn('open', 'hello', '0.1.0', 'crds'), replaceCRDs: true });
    const crd = await crds.readCustomResourceDefinition({ name });
    expect(crd.spec.names.shortNames).toEqual(['greet']);
    // Changed behind helm's back; an upgrade with replaceCRDs puts the chart's back.
    crd.spec.names.shortNames = ['changed'];
    await crds.replaceCustomResourceDefinition({ name, body: crd });
    expect((await crds.readCustomResourceDefinition({ name })).spec.names.shortNames).toEqual(['changed']);
    await replaceSpec('crds-helm-default-hello', { overrides: b64({ greeting: 'again' }) });
    await helmReleaseWith('crds-helm-default-hello', 'upgraded', (h) => h.status?.version === 2);
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

  it('uninstalls on deletion: uninstalling (owner Uninstalling), then the release and the finalizer go', async () => {
    await deployed('bye', chartIn('open', 'hello', '0.1.0', 'bye'));
    await deployed('stay', chartIn('open', 'hello', '0.1.0', 'stay'));
    const hrPhases = await phasesOf('helmreleases', 'bye-helm-default-hello');
    const ownerPhases = await phasesOf('descriptions', 'bye-helm');
    await parentObjects().deleteNamespacedCustomObject({
      ...inDedicated('helmreleases'),
      name: 'bye-helm-default-hello',
    });
    await eventually(
      `the HelmRelease gone (log ${logPath})`,
      () => absent(() => readHelmRelease('bye-helm-default-hello')),
      { timeoutMs: 60_000 },
    );
    hrPhases.stop();
    ownerPhases.stop();
    expect(hrPhases.seen.slice(-1)).toEqual(['uninstalling']);
    expect(ownerPhases.seen).toContain('Uninstalling');
    expect(await absent(() => readConfigMap('bye-greeting'))).toBe(true);
    expect(await releaseSecrets('bye')).toEqual([]);
    // The other release stays.
    expect((await readConfigMap('stay-greeting')).data?.chartVersion).toBe('0.1.0');
  });

  it('reports a spec it cannot use, and still uninstalls when such a HelmRelease is deleted', async () => {
    const { hr } = await deployed('gone', chartIn('open', 'hello', '0.2.0', 'gone'));
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

  it('queues the Descriptions of a HelmChart’s Base again when the HelmChart changes', async () => {
    const base = `base-${suffix}`;
    const owner = (await parentObjects().createNamespacedCustomObject({
      ...inDedicated('descriptions'),
      body: {
        apiVersion: `${group}/${version}`,
        kind: 'Description',
        metadata: {
          name: 'charted-helm',
          namespace: ns(),
          labels: { 'clusternet.io/created-by': 'clusternet-controller-manager', [configUidLabel]: base },
        },
        spec: { deployer: 'Helm', charts: [{ name: 'hello', namespace: ns() }] },
      },
    })) as Description;
    const synced = async (): Promise<number> =>
      (await eventsAbout(env, ns(), owner.metadata.name ?? '')).find((e) => e.reason === 'Synced')?.count ?? 0;
    const after = async (what: string, n: number): Promise<number> =>
      eventually(`the Description synced again (${what})`, async () => {
        const now = await synced();
        return now > n ? now : undefined;
      });
    const first = await after('its own reconcile', 0);
    const chart = {
      apiVersion: `${group}/${version}`,
      kind: 'HelmChart',
      metadata: { name: 'hello', namespace: ns(), labels: { [base]: 'Base' } },
      spec: { repo: `${repoUrl}/open`, chart: 'hello', version: '0.1.0', targetNamespace: targetNs },
    };
    await parentObjects().createNamespacedCustomObject({ ...inDedicated('helmcharts'), body: chart });
    const added = await after('the HelmChart added', first);
    const current = (await parentObjects().getNamespacedCustomObject({
      ...inDedicated('helmcharts'),
      name: 'hello',
    })) as typeof chart;
    await parentObjects().replaceNamespacedCustomObject({
      ...inDedicated('helmcharts'),
      name: 'hello',
      body: { ...current, spec: { ...current.spec, version: '0.2.0' } },
    });
    await after('the HelmChart spec changed', added);
  });

  // Last: it publishes a new chart version, which an empty spec.version then follows.
  it('with an empty spec.version installs the latest chart, and upgrades to a newer one', async () => {
    await deployed('latest', { ...chartIn('open', 'hello', '', 'latest'), replaceCRDs: true });
    expect((await readConfigMap('latest-greeting')).data?.chartVersion).toBe('0.2.0');
    const repoDir = join(scratch, 'repo');
    await helmOk(['package', chartSource, '--version', '0.3.0', '--destination', repoDir]);
    await helmOk(['repo', 'index', repoDir]);
    await replaceSpec('latest-helm-default-hello', { overrides: b64({ greeting: 'newer' }) });
    const upgraded = await helmReleaseWith('latest-helm-default-hello', 'at version 2', (h) => h.status?.version === 2);
    expect(upgraded.status?.phase).toBe('deployed');
    expect((await readConfigMap('latest-greeting')).data).toEqual({ greeting: 'newer', chartVersion: '0.3.0' });
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
