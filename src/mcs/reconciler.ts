// One ServiceExport's reconcile (spec §7.7), the steps exportSteps decides: our finalizer on the
// ServiceExport in the child (PUT, the agent's own credentials), the parent slices of the derived
// service brought in line with the child's slices of the Service (a LIST by label, then DELETE / POST /
// PUT in the dedicated namespace), or, being deleted, a delete-collection of them and the finalizer
// removed. Any failure throws: the statechart queues the key again after a backoff.

import type { KubeConfig } from '@kubernetes/client-node';
import {
  derivedServiceName,
  desiredParentSlices,
  exportSteps,
  planSlices,
  serviceNameLabel,
  withFinalizer,
  type EndpointSlice,
  type ServiceExport,
} from '../../machines/mcs/decisions.ts';
import { rawRequest, statusText, type RawResponse } from '../kube/raw-request.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';
import type { ExportCache, SliceCache } from './caches.ts';

export const serviceExportPath = (namespace: string, name: string): string =>
  `/apis/multicluster.x-k8s.io/v1alpha1/namespaces/${namespace}/serviceexports/${name}`;
export const parentSlicesPath = (namespace: string): string =>
  `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`;
const selectorOf = (derived: string): string => `labelSelector=${encodeURIComponent(`${serviceNameLabel}=${derived}`)}`;

export interface ReconcilerDeps {
  readonly child: KubeConfig;
  /** The child's --kube-api-qps/burst bucket of the syncer. */
  readonly childLimiter?: RequestLimiter | undefined;
  readonly exports: ExportCache;
  readonly slices: SliceCache;
}

/** What one reconcile did, for the log. */
export interface ReconcileOutcome {
  readonly steps: readonly string[];
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
}

class RequestFailed extends Error {}

const fail = (what: string, res: RawResponse): RequestFailed =>
  new RequestFailed(`${what}: HTTP ${String(res.status)}: ${statusText(res)}`);

export class ExportReconciler {
  private readonly deps: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(
    key: string,
    parent: KubeConfig,
    dedicatedNamespace: string,
    signal: AbortSignal,
  ): Promise<ReconcileOutcome> {
    const se = this.deps.exports.get(key);
    if (se === undefined) return { steps: [], created: 0, updated: 0, deleted: 0 };
    const namespace = se.metadata.namespace ?? '';
    const name = se.metadata.name ?? '';
    const derived = derivedServiceName(namespace, name);
    const steps = exportSteps(se.metadata);
    let outcome: ReconcileOutcome = { steps, created: 0, updated: 0, deleted: 0 };
    for (const step of steps) {
      switch (step) {
        case 'addFinalizer':
          await this.putExport(withFinalizer(se, true), signal);
          break;
        case 'removeFinalizer':
          await this.putExport(withFinalizer(se, false), signal);
          break;
        case 'deleteSlices': {
          const res = await rawRequest(parent, {
            method: 'DELETE',
            path: `${parentSlicesPath(dedicatedNamespace)}?${selectorOf(derived)}`,
            signal,
          });
          if (res.status !== 200) throw fail(`deleting the EndpointSlices of ${derived} in the parent`, res);
          break;
        }
        case 'sync':
          outcome = { steps, ...(await this.sync(se, derived, parent, dedicatedNamespace, signal)) };
          break;
      }
    }
    return outcome;
  }

  /** PUT of the ServiceExport as read with the finalizer changed; a 404 means it is gone (nothing to do). */
  private async putExport(se: ServiceExport, signal: AbortSignal): Promise<void> {
    const namespace = se.metadata.namespace ?? '';
    const name = se.metadata.name ?? '';
    const res = await rawRequest(this.deps.child, {
      method: 'PUT',
      path: serviceExportPath(namespace, name),
      body: JSON.stringify(se),
      limiter: this.deps.childLimiter,
      signal,
    });
    if (res.status === 404) return;
    if (res.status !== 200) throw fail(`updating the finalizer of ServiceExport ${namespace}/${name}`, res);
    this.deps.exports.remember(JSON.parse(res.body) as ServiceExport);
  }

  private async sync(
    se: ServiceExport,
    derived: string,
    parent: KubeConfig,
    dedicatedNamespace: string,
    signal: AbortSignal,
  ): Promise<{ created: number; updated: number; deleted: number }> {
    const key = `${se.metadata.namespace ?? ''}/${se.metadata.name ?? ''}`;
    const desired = desiredParentSlices(se, this.deps.slices.ofService(key), dedicatedNamespace);
    const collection = parentSlicesPath(dedicatedNamespace);
    const listed = await rawRequest(parent, { method: 'GET', path: `${collection}?${selectorOf(derived)}`, signal });
    if (listed.status !== 200) throw fail(`listing the EndpointSlices of ${derived} in the parent`, listed);
    const existing = (JSON.parse(listed.body) as { items?: EndpointSlice[] }).items ?? [];
    const plan = planSlices(desired, existing);
    // Stale ones first, as Go does.
    for (const name of plan.delete) {
      const res = await rawRequest(parent, { method: 'DELETE', path: `${collection}/${name}`, signal });
      if (res.status !== 200 && res.status !== 404) throw fail(`deleting EndpointSlice ${name} in the parent`, res);
    }
    for (const slice of plan.create) await this.create(parent, collection, slice, signal);
    for (const slice of plan.update) await this.update(parent, collection, slice, signal);
    return { created: plan.create.length, updated: plan.update.length, deleted: plan.delete.length };
  }

  /**
   * POST; when a slice of that name exists without the derived label (two Services whose
   * `<namespace>-<slice>` names collide), Go's apply takes it over: its content is replaced, its labels kept.
   */
  private async create(
    parent: KubeConfig,
    collection: string,
    slice: EndpointSlice,
    signal: AbortSignal,
  ): Promise<void> {
    const name = slice.metadata.name ?? '';
    const res = await rawRequest(parent, { method: 'POST', path: collection, body: JSON.stringify(slice), signal });
    if (res.status === 201 || res.status === 200) return;
    if (res.status !== 409) throw fail(`creating EndpointSlice ${name} in the parent`, res);
    const got = await rawRequest(parent, { method: 'GET', path: `${collection}/${name}`, signal });
    if (got.status !== 200) throw fail(`reading EndpointSlice ${name} in the parent`, got);
    const current = JSON.parse(got.body) as EndpointSlice;
    const [merged] = planSlices([slice], [current]).update;
    if (merged !== undefined) await this.update(parent, collection, merged, signal);
  }

  /** PUT with the resourceVersion read: a conflict fails the reconcile, which runs again with a fresh LIST. */
  private async update(
    parent: KubeConfig,
    collection: string,
    slice: EndpointSlice,
    signal: AbortSignal,
  ): Promise<void> {
    const name = slice.metadata.name ?? '';
    const res = await rawRequest(parent, {
      method: 'PUT',
      path: `${collection}/${name}`,
      body: JSON.stringify(slice),
      signal,
    });
    if (res.status !== 200) throw fail(`updating EndpointSlice ${name} in the parent`, res);
  }
}
