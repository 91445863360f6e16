// The HelmRelease reconcile's orchestration (spec §7.4) with a fake helm and a stand-in parent
// apiserver on loopback that records every write: the order of the status writes (the HelmRelease's
// and its owner Description's), the finalizer, the helm steps, the events, and what is retried.
// The real helm against real clusters: test/integration/deployer/helm.test.ts.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { finalizer, type Description } from '../../../machines/deployer/decisions.ts';
import type { HelmRelease, HelmReleaseSpec, StoredRelease } from '../../../machines/deployer/helm-releases.ts';
import type { ObjectEvent } from '../../../src/kube/event-correlator.ts';
import { DescriptionStore } from '../../../src/deployer/descriptions.ts';
import { ChartLocateError, HelmError, type LocatedChart } from '../../../src/deployer/helm.ts';
import {
  HelmChartStore,
  HelmReleaseReconciler,
  HelmReleaseStore,
  type HelmRunner,
} from '../../../src/deployer/helm-releases.ts';

const ns = 'clusternet-x';
const apps = `/apis/apps.clusternet.io/v1alpha1/namespaces/${ns}`;
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');

interface Write {
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
  /** What the fake answered. */
  answered?: number;
}

/**
 * A parent apiserver that keeps objects by path and answers GET / PUT (409 for a stale resourceVersion,
 * as the real one); `fail` answers some requests.
 */
class FakeParent {
  readonly objects = new Map<string, Record<string, unknown>>();
  readonly writes: Write[] = [];
  fail: (method: string, path: string, body: Record<string, unknown> | undefined) => number | undefined = () =>
    undefined;
  private server: Server | undefined;
  private version = 100;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const method = req.method ?? '';
        const path = (req.url ?? '').split('?')[0] ?? '';
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
        const write: Write = { method, path, body };
        if (method !== 'GET') this.writes.push(write);
        const answer = (status: number, o?: unknown): void => {
          write.answered = status;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(o ?? { kind: 'Status', message: `HTTP ${String(status)} from the fake parent` }));
        };
        const failed = this.fail(method, path, body);
        const at = path.replace(/\/status$/, '');
        const known = this.objects.get(at);
        if (failed !== undefined) {
          answer(failed);
          return;
        }
        if (known === undefined || method === 'GET') {
          answer(known === undefined ? 404 : 200, known);
          return;
        }
        if (method !== 'PUT' || body === undefined) {
          answer(405);
          return;
        }
        const rv = (o: Record<string, unknown>): unknown =>
          (o.metadata as { resourceVersion?: string }).resourceVersion;
        if (rv(body) !== rv(known)) {
          answer(409);
          return;
        }
        const metadata = { ...(body.metadata as object), resourceVersion: String(++this.version) };
        const next = path.endsWith('/status')
          ? {
              ...known,
              metadata: { ...(known.metadata as object), resourceVersion: metadata.resourceVersion },
              status: body.status,
            }
          : { ...body, metadata, ...(known.status === undefined ? {} : { status: known.status }) };
        this.objects.set(at, next);
        answer(200, next);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${String((this.server.address() as AddressInfo).port)}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'parent', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'c', cluster: 'parent', user: 'u' }],
      currentContext: 'c',
    });
    return kc;
  }

  /** The status writes, as `<kind> <phase>` (`HelmRelease pending-install`, `Description Installing`). */
  statusWrites(): string[] {
    return this.writes
      .filter((w) => w.path.endsWith('/status'))
      .map((w) => {
        const kind = w.path.includes('/helmreleases/') ? 'HelmRelease' : 'Description';
        return `${kind} ${String((w.body?.status as { phase?: string } | undefined)?.phase)}`;
      });
  }
}

const deployed = (over: Partial<StoredRelease> = {}): StoredRelease => ({
  name: 'web',
  namespace: 'apps',
  version: 1,
  status: 'deployed',
  chartName: 'hello',
  chartVersion: '0.1.0',
  values: { greeting: 'hi' },
  firstDeployed: '2026-11-24T06:50:27Z',
  lastDeployed: '2026-11-24T06:50:27Z',
  description: 'Install complete',
  notes: 'web says hi.',
  ...over,
});

/** A fake helm: `stored` is what `helm status` finds; each step is logged and may be made to fail. */
class FakeHelm implements HelmRunner {
  readonly calls: string[] = [];
  stored: StoredRelease | undefined;
  failOn: Partial<Record<'pull' | 'install' | 'upgrade' | 'uninstall' | 'rollback', Error>> = {};
  /** Runs when install starts (e.g. to end the term meanwhile). */
  onInstall: () => void = () => undefined;
  crds = '';

  status(): Promise<StoredRelease | undefined> {
    this.calls.push('status');
    return Promise.resolve(this.stored);
  }
  uninstall(): Promise<void> {
    this.calls.push('uninstall');
    if (this.failOn.uninstall !== undefined) return Promise.reject(this.failOn.uninstall);
    this.stored = undefined;
    return Promise.resolve();
  }
  rollback(): Promise<void> {
    this.calls.push('rollback');
    if (this.failOn.rollback !== undefined) return Promise.reject(this.failOn.rollback);
    this.stored = deployed({ version: (this.stored?.version ?? 1) + 1, values: { greeting: 'old' } });
    return Promise.resolve();
  }
  async withChart<T>(
    _plan: unknown,
    _credentials: unknown,
    signal: AbortSignal | undefined,
    fn: (chart: LocatedChart) => Promise<T>,
  ): Promise<T> {
    this.calls.push('pull');
    if (this.failOn.pull !== undefined) throw this.failOn.pull;
    const run = (kind: 'install' | 'upgrade') => (): Promise<StoredRelease> => {
      this.calls.push(kind);
      if (kind === 'install') this.onInstall();
      if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
      const failure = this.failOn[kind];
      if (failure !== undefined) return Promise.reject(failure);
      const version = kind === 'install' ? 1 : (this.stored?.version ?? 0) + 1;
      this.stored = deployed({ version, description: kind === 'install' ? 'Install complete' : 'Upgrade complete' });
      return Promise.resolve(this.stored);
    };
    return fn({
      crds: () => {
        this.calls.push('crds');
        return Promise.resolve(this.crds);
      },
      install: run('install'),
      upgrade: run('upgrade'),
    });
  }
}

const owner: Description = {
  apiVersion: 'apps.clusternet.io/v1alpha1',
  kind: 'Description',
  metadata: { name: 'web-helm', namespace: ns, uid: 'desc-uid', resourceVersion: '1', finalizers: [finalizer] },
  spec: { deployer: 'Helm' },
};

const helmRelease = (spec: HelmReleaseSpec = {}, meta: Partial<HelmRelease['metadata']> = {}): HelmRelease => ({
  apiVersion: 'apps.clusternet.io/v1alpha1',
  kind: 'HelmRelease',
  metadata: {
    name: 'web-helm-default-hello',
    namespace: ns,
    uid: 'hr-uid',
    resourceVersion: '2',
    finalizers: [finalizer],
    ownerReferences: [{ kind: 'Description', name: 'web-helm', uid: 'desc-uid', controller: true }],
    ...meta,
  },
  spec: {
    repo: 'http://charts.test/c',
    chart: 'hello',
    version: '0.1.0',
    targetNamespace: 'apps',
    releaseName: 'web',
    overrides: b64({ greeting: 'hi' }),
    ...spec,
  },
});

let parent: FakeParent;
beforeEach(async () => {
  parent = new FakeParent();
  await parent.start();
});
afterEach(async () => {
  await parent.stop();
});

/** The reconciler over the fake parent (holding `hr` and `desc`) and a fake helm. */
function setup(hr: HelmRelease, desc: Description = owner, now = Date.parse('2026-11-24T07:00:00Z')) {
  const hrPath = `${apps}/helmreleases/${hr.metadata.name ?? ''}`;
  parent.objects.set(hrPath, hr as unknown as Record<string, unknown>);
  const stores = {
    releases: new HelmReleaseStore(),
    charts: new HelmChartStore(),
    descriptions: new DescriptionStore(),
  };
  stores.releases.replace([hr], '2');
  parent.objects.set(`${apps}/descriptions/${desc.metadata.name ?? ''}`, desc as unknown as Record<string, unknown>);
  stores.descriptions.replace([desc], '1');
  const helm = new FakeHelm();
  const events: ObjectEvent[] = [];
  const applied: string[] = [];
  const reconciler = new HelmReleaseReconciler({
    parent: parent.kubeConfig(),
    stores,
    helm,
    objects: {
      apply: (o) => {
        applied.push(`${o.kind} ${o.metadata.name ?? ''}`);
        return Promise.resolve(o);
      },
    },
    onEvent: (e) => events.push(e),
    now: () => now,
  });
  const key = `${ns}/${hr.metadata.name ?? ''}`;
  return {
    helm,
    events,
    applied,
    stores,
    hrPath,
    reconcile: (signal?: AbortSignal) => reconciler.reconcile(key, true, signal),
    reasons: () => events.map((e) => `${e.type}/${e.reason}`),
  };
}

describe('HelmReleaseReconciler (spec §7.4)', () => {
  it('installs: pending-install, then the release; the owner Installing then Success; Synced', async () => {
    const t = setup(helmRelease());
    await t.reconcile();
    expect(t.helm.calls).toEqual(['status', 'pull', 'install']);
    expect(parent.statusWrites()).toEqual([
      'HelmRelease pending-install',
      'Description Installing',
      'HelmRelease deployed',
      'Description Success',
    ]);
    const status = (parent.objects.get(t.hrPath)?.status ?? {}) as Record<string, unknown>;
    expect(status).toEqual({
      phase: 'deployed',
      version: 1,
      firstDeployed: '2026-11-24 06:50:27 +0000 UTC',
      lastDeployed: '2026-11-24 06:50:27 +0000 UTC',
      description: 'Install complete',
      notes: 'web says hi.',
    });
    expect(t.reasons()).toEqual(['Normal/Synced']);
  });

  it('injects the finalizer first (full PUT, FinalizerInjected), then deploys', async () => {
    const t = setup(helmRelease({}, { finalizers: [] }));
    await t.reconcile();
    expect(parent.writes[0]).toMatchObject({ method: 'PUT', path: t.hrPath });
    expect((parent.writes[0]?.body?.metadata as { finalizers?: string[] }).finalizers).toEqual([finalizer]);
    expect(t.reasons()).toEqual(['Normal/FinalizerInjected', 'Normal/Synced']);
  });

  it('reports a finalizer it cannot add (FailedInjectingFinalizer, no FailedSynced) and is retried', async () => {
    const t = setup(helmRelease({}, { finalizers: [] }));
    parent.fail = (method, path) => (method === 'PUT' && path === t.hrPath ? 500 : undefined);
    await expect(t.reconcile()).rejects.toThrow(
      `failed to inject finalizer ${finalizer} to HelmRelease ${ns}/web-helm-default-hello: adding the finalizer of`,
    );
    expect(t.reasons()).toEqual(['Warning/FailedInjectingFinalizer']);
    expect(t.events[0]?.message).toMatch(/HTTP 500 from the fake parent/);
    expect(t.helm.calls).toEqual([]);
  });

  it('upgrades a release whose values differ: pending-upgrade, then the new revision; the owner Upgrading', async () => {
    const t = setup(helmRelease({ overrides: b64({ greeting: 'bonjour' }) }));
    t.helm.stored = deployed();
    await t.reconcile();
    expect(t.helm.calls).toEqual(['status', 'pull', 'upgrade']);
    expect(parent.statusWrites()).toEqual([
      'HelmRelease pending-upgrade',
      'Description Upgrading',
      'HelmRelease deployed',
      'Description Success',
    ]);
  });

  it('reports an up-to-date release without fetching the chart', async () => {
    const t = setup(helmRelease());
    t.helm.stored = deployed();
    await t.reconcile();
    expect(t.helm.calls).toEqual(['status']);
    expect(parent.statusWrites()).toEqual(['HelmRelease deployed', 'Description Success']);
  });

  it('with replaceCRDs, applies the CRDs of the fetched chart before installing it', async () => {
    const t = setup(helmRelease({ replaceCRDs: true }));
    t.helm.crds =
      '---\n# Source: hello/crds/greetings.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: greetings.hello.example.test\n';
    await t.reconcile();
    expect(t.helm.calls).toEqual(['status', 'pull', 'crds', 'install']);
    expect(t.applied).toEqual(['CustomResourceDefinition greetings.hello.example.test']);
  });

  it('atomic and the last release failed: uninstalling, uninstall, then a fresh install', async () => {
    const t = setup(helmRelease({ atomic: true }));
    t.helm.stored = deployed({ status: 'failed', version: 2 });
    await t.reconcile();
    expect(t.helm.calls).toEqual(['status', 'pull', 'uninstall', 'install']);
    expect(parent.statusWrites()).toEqual([
      'HelmRelease uninstalling',
      'Description Uninstalling',
      'HelmRelease pending-install',
      'Description Installing',
      'HelmRelease deployed',
      'Description Success',
    ]);
  });

  it('on deletion: uninstalling, helm uninstall, then the finalizer goes (full PUT)', async () => {
    const t = setup(helmRelease({}, { deletionTimestamp: '2026-11-24T07:00:00Z', finalizers: [finalizer, 'other'] }));
    t.helm.stored = deployed();
    await t.reconcile();
    expect(t.helm.calls).toEqual(['uninstall']);
    expect(parent.statusWrites()).toEqual(['HelmRelease uninstalling', 'Description Uninstalling']);
    const last = parent.writes.at(-1);
    expect(last).toMatchObject({ method: 'PUT', path: t.hrPath });
    expect((last?.body?.metadata as { finalizers?: string[] }).finalizers).toEqual(['other']);
  });

  it('an undecodable spec: failed with the reason, FailedSynced, no helm, not retried', async () => {
    const t = setup(helmRelease({ overrides: Buffer.from('{not json').toString('base64') }));
    await t.reconcile();
    expect(t.helm.calls).toEqual([]);
    expect(parent.statusWrites()).toEqual(['HelmRelease failed', 'Description Failure']);
    expect(t.reasons()).toEqual(['Warning/FailedSynced']);
    expect(t.events[0]?.message).toMatch(/^spec.overrides is not JSON/);
  });

  it('leaves an owner of another UID alone (a newer namesake)', async () => {
    const t = setup(helmRelease(), { ...owner, metadata: { ...owner.metadata, uid: 'other-uid' } });
    await t.reconcile();
    expect(parent.statusWrites()).toEqual(['HelmRelease pending-install', 'HelmRelease deployed']);
  });

  it('a chart it cannot locate: ChartLocateFailure and FailedSynced, failed, nothing uninstalled, retried', async () => {
    const t = setup(helmRelease({ atomic: true }));
    t.helm.stored = deployed({ status: 'failed' });
    t.helm.failOn.pull = new ChartLocateError('fetching the index of chart repository http://charts.test/c: 404', '');
    await expect(t.reconcile()).rejects.toThrow(/FailedSynced HelmRelease .*: fetching the index/);
    expect(t.helm.calls).toEqual(['status', 'pull']);
    expect(parent.statusWrites()).toEqual(['HelmRelease failed', 'Description Failure']);
    expect(t.reasons()).toEqual(['Warning/ChartLocateFailure', 'Warning/FailedSynced']);
    expect(t.events.map((e) => e.message)).toEqual([
      'fetching the index of chart repository http://charts.test/c: 404',
      'fetching the index of chart repository http://charts.test/c: 404',
    ]);
  });

  it('a failed install: failed with helm’s message, FailedSynced (no ChartLocateFailure), retried', async () => {
    const t = setup(helmRelease());
    t.helm.failOn.install = new HelmError('INSTALLATION FAILED: boom', '');
    await expect(t.reconcile()).rejects.toThrow(/INSTALLATION FAILED: boom/);
    expect(parent.statusWrites()).toEqual([
      'HelmRelease pending-install',
      'Description Installing',
      'HelmRelease failed',
      'Description Failure',
    ]);
    expect(t.reasons()).toEqual(['Warning/FailedSynced']);
  });

  it('a failed upgrade: the whole status is the failure, nothing of the release before stays (spec §7.4 step 11)', async () => {
    const t = setup({
      ...helmRelease({ overrides: b64({ greeting: 'bonjour' }) }),
      status: { phase: 'deployed', version: 1, description: 'Install complete', notes: 'web says hi.' },
    });
    t.helm.stored = deployed();
    t.helm.failOn.upgrade = new HelmError('UPGRADE FAILED: boom', '');
    await expect(t.reconcile()).rejects.toThrow(/UPGRADE FAILED: boom/);
    expect(parent.objects.get(t.hrPath)?.status).toEqual({ phase: 'failed', notes: 'UPGRADE FAILED: boom' });
  });

  it('a parent that refuses the failed status still gets FailedSynced, and the error keeps the cause', async () => {
    const t = setup(helmRelease());
    t.helm.failOn.install = new HelmError('INSTALLATION FAILED: boom', '');
    parent.fail = (method, path, body) =>
      path === `${t.hrPath}/status` && (body?.status as { phase?: string }).phase === 'failed' ? 500 : undefined;
    await expect(t.reconcile()).rejects.toThrow(
      /^FailedSynced HelmRelease .*: INSTALLATION FAILED: boom \(nor could the failure be written to its status: writing the status of .*: 500/,
    );
    expect(t.reasons()).toEqual(['Warning/FailedSynced']);
    expect(t.events[0]?.message).toBe('INSTALLATION FAILED: boom');
  });

  it('writes the failure from the HelmRelease it last wrote, not an older copy the watch brought meanwhile', async () => {
    const hr = helmRelease();
    const t = setup(hr);
    t.helm.failOn.install = new HelmError('INSTALLATION FAILED: boom', '');
    // While helm runs, the watch delivers the HelmRelease as it was before the pending-install write.
    t.helm.onInstall = () => {
      t.stores.releases.apply('MODIFIED', hr);
    };
    await expect(t.reconcile()).rejects.toThrow(/INSTALLATION FAILED: boom/);
    expect(parent.writes.filter((w) => w.answered === 409)).toEqual([]);
    expect(parent.objects.get(t.hrPath)?.status).toEqual({ phase: 'failed', notes: 'INSTALLATION FAILED: boom' });
  });

  it('a release stuck in pending-upgrade is rolled back, then upgraded', async () => {
    const t = setup(helmRelease(), owner, Date.parse('2026-11-24T12:00:00Z'));
    t.helm.stored = deployed({ status: 'pending-upgrade', version: 3, lastDeployed: '2026-11-24T07:00:00Z' });
    await t.reconcile();
    expect(t.helm.calls).toEqual(['status', 'rollback', 'status', 'pull', 'upgrade']);
    expect(parent.statusWrites()).toEqual([
      'HelmRelease pending-rollback',
      'Description Unknown',
      'HelmRelease pending-upgrade',
      'Description Upgrading',
      'HelmRelease deployed',
      'Description Success',
    ]);
  });

  it('a pending release some helm may still work on is left alone and tried again later', async () => {
    const t = setup(helmRelease({ atomic: true }), owner, Date.parse('2026-11-24T07:05:00Z'));
    t.helm.stored = deployed({ status: 'pending-install', lastDeployed: '2026-11-24T07:00:00Z' });
    await expect(t.reconcile()).rejects.toThrow(
      /is pending-install since 2026-11-24T07:00:00Z: another helm operation/,
    );
    expect(t.helm.calls).toEqual(['status']);
  });

  it('stopped mid-install (the term ended): no status or event afterwards, rejects with the reason', async () => {
    const t = setup(helmRelease());
    const stop = new AbortController();
    t.helm.onInstall = () => {
      stop.abort(new Error('term over'));
    };
    await expect(t.reconcile(stop.signal)).rejects.toThrow('term over');
    expect(parent.statusWrites()).toEqual(['HelmRelease pending-install', 'Description Installing']);
    expect(t.events).toEqual([]);
  });
});
