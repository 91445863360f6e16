// HelmReleases (and HelmCharts) of the dedicated namespace in the parent: their store and watch, and
// one reconcile of one HelmRelease (spec §7.4) with the helm binary (helm.ts).

import type { KubeConfig } from '@kubernetes/client-node';
import { loadAllYaml } from '../kube/client-node.ts';
import {
  descriptionNeedsWork,
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
import { failureMessage } from '../../machines/failure.ts';
import { concatMap, map, type Observable } from 'rxjs';
import type { ObjectEvent } from '../kube/event-correlator.ts';
import { isMark, together$, type ListWatchMark } from '../kube/list-watch.ts';
import { rawRequest, statusText } from '../kube/raw-request.ts';
import type { ChildObjects } from './child-objects.ts';
import { descriptionsPath, type DescriptionStore } from './descriptions.ts';
import { ChartLocateError, type Helm, type LocatedChart, type RepoCredentials } from './helm.ts';
import { deployerEvents, type EventText } from './events.ts';
import { eventAbout, ParentObjects } from './parent-writes.ts';
import { keyOf, watchObjects$, WatchedObjects } from './watched-objects.ts';
import { wallNow, type Clock } from '../clock.ts';

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
 * The watchHelm actor's events: HelmReleases (a deleted one queues its owner Description again), and
 * when deploying the HelmCharts (a change queues the Descriptions of its Bases). `helm.synced` once
 * both are listed; either watch ending ends both, once.
 */
export function helmEvents$(
  kc: KubeConfig,
  namespace: string,
  deploys: boolean,
  stores: HelmStores,
): Observable<DeployerEvent> {
  const releases$ = watchObjects$<HelmRelease>({
    kc,
    path: helmReleasesPath(namespace),
    what: 'HelmRelease',
    store: stores.releases,
  }).pipe(
    concatMap((e): (DeployerEvent | ListWatchMark)[] => {
      if (e.type !== 'changed') return [e];
      const owner = ownerDescriptionKey(e.object);
      const ownerChanged = e.deleted && owner !== undefined;
      return [
        { type: 'helmRelease.changed', key: e.key },
        ...(ownerChanged ? [{ type: 'description.changed', key: owner.key } as const] : []),
      ];
    }),
  );
  const charts$ = watchObjects$<HelmChart>({
    kc,
    path: helmChartsPath(namespace),
    what: 'HelmChart',
    store: stores.charts,
  }).pipe(
    concatMap((e): (DeployerEvent | ListWatchMark)[] => {
      if (e.type !== 'changed') return [e];
      const labels = [...stores.descriptions.entries()].map(([k, d]) => [k, d.metadata.labels] as const);
      return descriptionsOfHelmChart(e.object, labels).map((key) => ({ type: 'description.changed', key }) as const);
    }),
  );
  return together$<DeployerEvent>(deploys ? [releases$, charts$] : [releases$]).pipe(
    map((e): DeployerEvent => {
      if (!isMark(e)) return e;
      return e.type === 'synced'
        ? { type: 'helm.synced' }
        : { type: 'helm.watchEnded', kind: e.type, message: e.message };
    }),
  );
}

/** What the reconcile asks of helm (the Helm runner; tests give a fake). */
export type HelmRunner = Pick<Helm, 'status' | 'uninstall' | 'rollback' | 'withChart'>;

/** The HelmRelease as the reconcile last wrote it (status, finalizer). */
interface Progress {
  hr: HelmRelease;
}

export interface HelmReleaseReconcilerDeps {
  readonly parent: KubeConfig;
  readonly stores: HelmStores;
  readonly helm: HelmRunner;
  /** For replaceCRDs: the chart's CRDs are applied (server-side apply) before install or upgrade. */
  readonly objects: Pick<ChildObjects, 'apply'>;
  /** Kubernetes Events about the HelmRelease (spec §7.4 steps 1, 13). */
  readonly onEvent?: (event: ObjectEvent) => void;
  /** Wall-clock time (ms), to tell a release stuck in a pending state (default wallNow). */
  readonly now?: Clock;
}

const fromBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

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
          this.event(o, deployerEvents.finalizerInjected('HelmRelease', key));
        },
        signal,
      )
      .catch((err: unknown) => {
        // Only the finalizer PUT can fail here (spec §7.4 step 1); as Go, no FailedSynced then.
        signal?.throwIfAborted();
        const hr = this.deps.stores.releases.get(key);
        const e = deployerEvents.failedInjectingFinalizer('HelmRelease', key, failureMessage(err));
        if (hr !== undefined) this.event(hr, e);
        throw new Error(e.message, { cause: err });
      });
    if (decided === undefined || decided.action === 'skip' || decided.action === 'injectFinalizer') return;
    const { object: hr, action } = decided;
    // The HelmRelease as last written by this reconcile: the store may hold an older copy meanwhile
    // (a watch event of an earlier write), and a status write from that one would only conflict.
    const progress: Progress = { hr };
    const decoded = action === 'deploy' ? decodeHelmRelease(hr, fromBase64) : undefined;
    if (decoded?.ok === false) {
      // Waits for a new spec: nothing to retry (unless the failure cannot be reported).
      this.event(hr, deployerEvents.failedSynced(decoded.error));
      await this.report(progress, failedStatus(decoded.error), signal);
      return;
    }
    try {
      if (decoded === undefined) await this.uninstall(progress, uninstallTarget(hr), signal);
      else await this.deploy(progress, decoded.plan, signal);
    } catch (err) {
      signal?.throwIfAborted();
      // Reported as an event and in the status (and the owner's), then retried with backoff. The event
      // goes first, so that a parent refusing the status write still hears why.
      const reason = failureMessage(err);
      this.event(progress.hr, deployerEvents.failedSynced(reason));
      const unreported = await this.report(progress, failedStatus(reason), signal).then(
        () => undefined,
        (e: unknown) => e,
      );
      signal?.throwIfAborted();
      const also =
        unreported === undefined
          ? ''
          : ` (nor could the failure be written to its status: ${failureMessage(unreported)})`;
      throw new Error(`FailedSynced HelmRelease ${key}: ${reason}${also}`, { cause: err });
    }
  }

  private event(hr: HelmRelease, e: EventText): void {
    this.deps.onEvent?.(eventAbout(helmReleaseApiVersion, 'HelmRelease', hr, e.type, e.reason, e.message));
  }

  /** Spec §7.4 step 3: uninstalling, helm uninstall, then the finalizer goes (at once without a target). */
  private async uninstall(
    progress: Progress,
    target: UninstallTarget | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (target !== undefined) {
      await this.report(progress, phaseStatus(progress.hr.status, 'uninstalling'), signal);
      await this.deps.helm.uninstall(target, signal);
    }
    await this.releases.releaseFinalizer(progress.hr, signal);
  }

  /** Spec §7.4 steps 4–11. */
  private async deploy(progress: Progress, plan: ReleasePlan, signal: AbortSignal | undefined): Promise<void> {
    const { helm } = this.deps;
    const credentials = plan.pullSecret === undefined ? undefined : await this.pullCredentials(plan.pullSecret, signal);
    const now = this.deps.now ?? wallNow;
    let stored = await helm.status(plan, signal);
    let step = decideRelease(plan, stored, now());
    const phase = (p: string): Promise<void> => this.report(progress, phaseStatus(progress.hr.status, p), signal);
    if (step.kind === 'rollback') {
      // Stuck in pending-upgrade / pending-rollback: back to the previous revision, then as usual.
      await phase('pending-rollback');
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
            await phase('uninstalling');
            await helm.uninstall(plan, signal);
          }
          await phase(kind === 'upgrade' ? 'pending-upgrade' : 'pending-install');
          await this.replaceCrds(plan, chart, signal);
          return kind === 'upgrade' ? chart.upgrade() : chart.install();
        })
        .catch((err: unknown) => {
          if (err instanceof ChartLocateError && signal?.aborted !== true) {
            this.event(progress.hr, deployerEvents.chartLocateFailure(err.message));
          }
          throw err;
        });
    }
    if (release === undefined) throw new Error(`release ${plan.releaseName} is missing after ${step.kind}`);
    await this.report(progress, releaseStatus(release), signal);
    this.event(progress.hr, deployerEvents.synced('HelmRelease'));
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
  private async report(progress: Progress, status: HelmReleaseStatus, signal: AbortSignal | undefined): Promise<void> {
    const { hr } = progress;
    const written = await this.releases.writeStatus(hr, (current) => nextHelmReleaseStatus(current, status), signal);
    if (written !== undefined) progress.hr = written;
    const owner = ownerDescriptionKey(hr);
    // The Description watch may not have listed it yet: then it is read from the parent.
    const d = owner === undefined ? undefined : await this.descriptions.get(owner.key, signal);
    // The owner as the controller reference names it (same UID: not a newer namesake).
    if (d !== undefined && d.metadata.uid === owner?.uid) {
      const phase = ownerDescriptionStatus(status);
      await this.descriptions.writeStatus(d, (current) => nextOwnerStatus(current, phase), signal);
    }
  }
}

export { keyOf };
