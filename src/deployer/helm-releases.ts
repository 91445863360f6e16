// HelmReleases (and HelmCharts) of the dedicated namespace in the parent: their store and watch, and
// one reconcile of one HelmRelease (spec §7.4) with the helm binary (helm.ts).

import { loadAllYaml, type KubeConfig } from '@kubernetes/client-node';
import {
  descriptionNeedsWork,
  finalizer,
  type Description,
  type DescriptionStatus,
  type KubeObject,
} from '../../machines/deployer/decisions.ts';
import {
  decideHelmRelease,
  decideRelease,
  decodeHelmRelease,
  descriptionsOfHelmChart,
  failedStatus,
  helmChartChanged,
  nextHelmReleaseStatus,
  nextOwnerStatus,
  ownerDescriptionKey,
  ownerDescriptionStatus,
  phaseStatus,
  releaseStatus,
  uninstallTarget,
  yamlDocuments,
  type HelmChart,
  type HelmRelease,
  type HelmReleaseStatus,
  type ReleasePlan,
  type UninstallTarget,
} from '../../machines/deployer/helm-releases.ts';
import type { DeployerEvent } from '../../machines/deployer/machine.ts';
import type { EventType, ObjectEvent } from '../kube/event-correlator.ts';
import { rawRequest, statusText } from '../kube/raw-request.ts';
import type { ChildObjects } from './child-objects.ts';
import { descriptionsPath, type DescriptionStore } from './descriptions.ts';
import { ChartLocateError, type Helm, type LocatedChart, type RepoCredentials } from './helm.ts';
import { eventAbout, ParentObjects } from './parent-writes.ts';
import { keyOf, watchObjects, WatchedObjects } from './watched-objects.ts';

const apps = '/apis/apps.clusternet.io/v1alpha1';
export const helmReleasesPath = (namespace: string): string => `${apps}/namespaces/${namespace}/helmreleases`;
export const helmChartsPath = (namespace: string): string => `${apps}/namespaces/${namespace}/helmcharts`;

export class HelmReleaseStore extends WatchedObjects<HelmRelease> {
  constructor() {
    super(descriptionNeedsWork);
  }
}

export class HelmChartStore extends WatchedObjects<HelmChart> {
  constructor() {
    super(helmChartChanged);
  }
}

export interface HelmStores {
  readonly releases: HelmReleaseStore;
  readonly charts: HelmChartStore;
  readonly descriptions: DescriptionStore;
}

/**
 * The body of the watchHelm actor: HelmReleases (a deleted one queues its owner Description again),
 * and when deploying the HelmCharts (a change queues the Descriptions of its Bases). Either watch
 * ending ends both, once.
 */
export function watchHelm(
  kc: KubeConfig,
  namespace: string,
  deploys: boolean,
  stores: HelmStores,
  send: (e: DeployerEvent) => void,
): () => void {
  const stops: (() => void)[] = [];
  let pending = deploys ? 2 : 1;
  let over = false;
  const synced = (): void => {
    if (--pending === 0) send({ type: 'helm.synced' });
  };
  const ended = (kind: 'expired' | 'failed', message: string): void => {
    if (over) return;
    over = true;
    for (const stop of stops) stop();
    send({ type: 'helm.watchEnded', kind, message });
  };
  stops.push(
    watchObjects<HelmRelease>({
      kc,
      path: helmReleasesPath(namespace),
      what: 'HelmRelease',
      store: stores.releases,
      synced,
      changed: (key, hr, deleted) => {
        send({ type: 'helmRelease.changed', key });
        const owner = ownerDescriptionKey(hr);
        if (deleted && owner !== undefined) send({ type: 'description.changed', key: owner.key });
      },
      ended,
    }),
  );
  if (deploys) {
    stops.push(
      watchObjects<HelmChart>({
        kc,
        path: helmChartsPath(namespace),
        what: 'HelmChart',
        store: stores.charts,
        synced,
        changed: (_key, chart) => {
          const labels = [...stores.descriptions.entries()].map(([k, d]) => [k, d.metadata.labels] as const);
          for (const key of descriptionsOfHelmChart(chart, labels)) send({ type: 'description.changed', key });
        },
        ended,
      }),
    );
  }
  return () => {
    over = true;
    for (const stop of stops) stop();
  };
}

/** What the reconcile asks of helm (the Helm runner; tests give a fake). */
export type HelmRunner = Pick<Helm, 'status' | 'uninstall' | 'rollback' | 'withChart'>;

export interface HelmReleaseReconcilerDeps {
  readonly parent: KubeConfig;
  readonly stores: HelmStores;
  readonly helm: HelmRunner;
  /** For replaceCRDs: the chart's CRDs are applied (server-side apply) before install or upgrade. */
  readonly objects: Pick<ChildObjects, 'apply'>;
  /** Kubernetes Events about the HelmRelease (spec §7.4 steps 1, 13). */
  readonly onEvent?: (event: ObjectEvent) => void;
  /** Wall-clock time (ms), to tell a release stuck in a pending state (default Date.now). */
  readonly now?: () => number;
}

const fromBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export const helmReleaseApiVersion = 'apps.clusternet.io/v1alpha1';

export class HelmReleaseReconciler {
  private readonly deps: HelmReleaseReconcilerDeps;
  private readonly releases: ParentObjects<HelmRelease, HelmReleaseStatus>;
  private readonly descriptions: ParentObjects<Description, DescriptionStatus>;

  constructor(deps: HelmReleaseReconcilerDeps) {
    this.deps = deps;
    this.releases = new ParentObjects(deps.parent, { collection: helmReleasesPath, store: deps.stores.releases });
    this.descriptions = new ParentObjects(deps.parent, {
      collection: descriptionsPath,
      store: deps.stores.descriptions,
    });
  }

  /**
   * One reconcile. When `signal` aborts (the leadership term ended) it stops: helm gets SIGTERM, nothing
   * more is written to the parent, and the interruption is not reported as a failure.
   */
  async reconcile(key: string, deploys: boolean, signal?: AbortSignal): Promise<void> {
    const decided = await this.releases
      .decide(
        key,
        (o) => decideHelmRelease(o, deploys),
        (o) => {
          this.event(
            o,
            'Normal',
            'FinalizerInjected',
            `successfully inject finalizer ${finalizer} to HelmRelease ${key}`,
          );
        },
        signal,
      )
      .catch((err: unknown) => {
        // Only the finalizer PUT can fail here (spec §7.4 step 1); as Go, no FailedSynced then.
        signal?.throwIfAborted();
        const hr = this.deps.stores.releases.get(key);
        const text = `failed to inject finalizer ${finalizer} to HelmRelease ${key}: ${message(err)}`;
        if (hr !== undefined) this.event(hr, 'Warning', 'FailedInjectingFinalizer', text);
        throw new Error(text, { cause: err });
      });
    if (decided === undefined || decided.action === 'skip' || decided.action === 'injectFinalizer') return;
    const { object: hr, action } = decided;
    const decoded = action === 'deploy' ? decodeHelmRelease(hr, fromBase64) : undefined;
    if (decoded?.ok === false) {
      // Waits for a new spec: nothing to retry.
      await this.report(hr, failedStatus(decoded.error), signal);
      this.event(hr, 'Warning', 'FailedSynced', decoded.error);
      return;
    }
    try {
      if (decoded === undefined) await this.uninstall(hr, uninstallTarget(hr), signal);
      else await this.deploy(hr, decoded.plan, signal);
    } catch (err) {
      signal?.throwIfAborted();
      // Reported in the status (and the owner's), then retried with backoff.
      const reason = message(err);
      const current = this.deps.stores.releases.get(key) ?? hr;
      await this.report(current, failedStatus(reason), signal);
      this.event(current, 'Warning', 'FailedSynced', reason);
      throw new Error(`FailedSynced HelmRelease ${key}: ${reason}`, { cause: err });
    }
  }

  private event(hr: HelmRelease, type: EventType, reason: string, text: string): void {
    this.deps.onEvent?.(eventAbout(helmReleaseApiVersion, 'HelmRelease', hr, type, reason, text));
  }

  /** Spec §7.4 step 3: uninstalling, helm uninstall, then the finalizer goes (at once without a target). */
  private async uninstall(
    hr: HelmRelease,
    target: UninstallTarget | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let current = hr;
    if (target !== undefined) {
      current = await this.report(hr, phaseStatus(hr.status, 'uninstalling'), signal);
      await this.deps.helm.uninstall(target, signal);
    }
    await this.releases.releaseFinalizer(current, signal);
  }

  /** Spec §7.4 steps 4–11. */
  private async deploy(hr: HelmRelease, plan: ReleasePlan, signal: AbortSignal | undefined): Promise<void> {
    const { helm } = this.deps;
    const credentials = plan.pullSecret === undefined ? undefined : await this.pullCredentials(plan.pullSecret, signal);
    const now = this.deps.now ?? Date.now;
    let stored = await helm.status(plan, signal);
    let step = decideRelease(plan, stored, now());
    let current = hr;
    if (step.kind === 'rollback') {
      // Stuck in pending-upgrade / pending-rollback: back to the previous revision, then as usual.
      current = await this.report(current, phaseStatus(current.status, 'pending-rollback'), signal);
      await helm.rollback(plan, signal);
      stored = await helm.status(plan, signal);
      step = decideRelease(plan, stored, now());
      if (step.kind === 'rollback') throw new Error(`release ${plan.releaseName} is still pending after a rollback`);
    }
    if (step.kind === 'busy') throw new Error(step.why);
    let release = stored;
    if (step.kind !== 'none') {
      const { kind } = step;
      // The chart is fetched first: one that cannot be located uninstalls nothing and is never pending.
      release = await helm
        .withChart(plan, credentials, signal, async (chart) => {
          if (kind === 'reinstall') {
            current = await this.report(current, phaseStatus(current.status, 'uninstalling'), signal);
            await helm.uninstall(plan, signal);
          }
          const phase = kind === 'upgrade' ? 'pending-upgrade' : 'pending-install';
          current = await this.report(current, phaseStatus(current.status, phase), signal);
          await this.replaceCrds(plan, chart, signal);
          return kind === 'upgrade' ? chart.upgrade() : chart.install();
        })
        .catch((err: unknown) => {
          if (err instanceof ChartLocateError && signal?.aborted !== true) {
            this.event(current, 'Warning', 'ChartLocateFailure', err.message);
          }
          throw err;
        });
    }
    if (release === undefined) throw new Error(`release ${plan.releaseName} is missing after ${step.kind}`);
    await this.report(current, releaseStatus(release), signal);
    this.event(current, 'Normal', 'Synced', 'HelmRelease synced successfully');
  }

  /** replaceCRDs (and not skipCRDs): the chart's CRDs are applied before install or upgrade (step 8). */
  private async replaceCrds(plan: ReleasePlan, chart: LocatedChart, signal: AbortSignal | undefined): Promise<void> {
    if (!plan.replaceCRDs || plan.skipCRDs) return;
    for (const doc of yamlDocuments(await chart.crds())) {
      const [crd] = loadAllYaml(doc) as (KubeObject | null | undefined)[];
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      await this.deps.objects.apply(crd, { yaml: doc, signal });
    }
  }

  /** Spec §7.4 step 4: `username` / `password` of the chartPullSecret, read in the parent. */
  private async pullCredentials(
    ref: { name: string; namespace: string },
    signal: AbortSignal | undefined,
  ): Promise<RepoCredentials> {
    const path = `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets/${encodeURIComponent(ref.name)}`;
    const res = await rawRequest(this.deps.parent, { method: 'GET', path, signal });
    if (res.status !== 200) {
      throw new Error(
        `reading the chartPullSecret ${ref.namespace}/${ref.name}: ${String(res.status)} ${statusText(res)}`,
      );
    }
    const data = (JSON.parse(res.body) as { data?: Record<string, string> }).data ?? {};
    return { username: fromBase64(data.username ?? ''), password: fromBase64(data.password ?? '') };
  }

  /** Writes the HelmRelease status when it changed, then its owner Description's (step 12). */
  private async report(
    hr: HelmRelease,
    status: HelmReleaseStatus,
    signal: AbortSignal | undefined,
  ): Promise<HelmRelease> {
    const written = await this.releases.writeStatus(hr, (current) => nextHelmReleaseStatus(current, status), signal);
    const owner = ownerDescriptionKey(hr);
    // The Description watch may not have listed it yet: then it is read from the parent.
    const d = owner === undefined ? undefined : await this.descriptions.get(owner.key, signal);
    // The owner as the controller reference names it (same UID: not a newer namesake).
    if (d !== undefined && d.metadata.uid === owner?.uid) {
      const phase = ownerDescriptionStatus(status);
      await this.descriptions.writeStatus(d, (current) => nextOwnerStatus(current, phase), signal);
    }
    return written ?? hr;
  }
}

export { keyOf };
