// One reconcile of one Description (spec §7.3): finalizer first, then either offload (a real deletion
// in the parent: delete the objects in the child, then release the finalizer) or apply every manifest
// with server-side apply and write the status back when it changed. A Description the store no longer
// has is left alone: its objects stay in the child (the parent may be mid-restore, or someone removed
// the finalizer by hand; only a deletion the agent saw may remove workloads).

import type { KubeConfig } from '@kubernetes/client-node';
import {
  decideDescription,
  decodeManifests,
  descriptionPhase,
  finalizer,
  nextDescriptionStatus,
  prepareManifest,
  type Description,
  type DescriptionStatus,
  type KubeObject,
  type ManifestOutcome,
  type ManifestStatus,
} from '../../machines/deployer/decisions.ts';
import { rawRequest, statusText, type RawResponse } from '../kube/raw-request.ts';
import type { ChildObjects } from './child-objects.ts';
import { descriptionsPath, type DescriptionStore } from './descriptions.ts';
import type { DriftWatches } from './drift.ts';

export interface ReconcilerDeps {
  readonly parent: KubeConfig;
  readonly objects: ChildObjects;
  readonly store: DescriptionStore;
  /** Set when Recovery is on: applied kinds are watched and manifest statuses reported. */
  readonly drift: DriftWatches | undefined;
  readonly deploys: boolean;
  readonly onEvent?: (key: string, what: string, detail?: string) => void;
}

class ParentWriteError extends Error {
  readonly status: number;
  constructor(what: string, res: RawResponse) {
    super(`${what}: ${String(res.status)} ${statusText(res)}`);
    this.status = res.status;
  }
}

const fromBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const refOf = (o: KubeObject): string =>
  `${o.kind} ${o.metadata.namespace === undefined ? '' : `${o.metadata.namespace}/`}${o.metadata.name ?? ''}`;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class DescriptionReconciler {
  private readonly deps: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<void> {
    const { store, deploys } = this.deps;
    let d = store.get(key);
    if (d === undefined) return;
    let action = decideDescription(d, deploys);
    if (action === 'injectFinalizer') {
      d = await this.put(d, [...(d.metadata.finalizers ?? []), finalizer], 'adding the finalizer');
      if (d === undefined) return;
      this.deps.onEvent?.(key, 'FinalizerInjected');
      action = decideDescription(d, deploys);
    }
    if (action === 'skip') return;
    if (action === 'offload') {
      await this.offload(key, d);
      return;
    }
    await this.apply(key, d);
  }

  private async offload(key: string, d: Description): Promise<void> {
    const objects = decodeManifests(d.spec?.raw, fromBase64).flatMap((m) => (m.ok ? [m.object] : []));
    const errors = (
      await Promise.all(
        objects.map((o) =>
          this.deps.objects.delete(o).then(
            () => [],
            (err: unknown) => [`deleting ${refOf(o)}: ${message(err)}`],
          ),
        ),
      )
    ).flat();
    if (errors.length > 0) throw new Error(`FailedDeletingDescription ${key}: ${errors.join('; ')}`);
    await this.put(
      d,
      (d.metadata.finalizers ?? []).filter((f) => f !== finalizer),
      'removing the finalizer',
    );
    this.deps.onEvent?.(key, 'Offloaded', String(objects.length));
  }

  private async apply(key: string, d: Description): Promise<void> {
    const { objects, drift } = this.deps;
    const ns = d.metadata.namespace ?? '';
    const name = d.metadata.name ?? '';
    const decoded = decodeManifests(d.spec?.raw, fromBase64);
    const observed: ManifestStatus[] = [];
    const outcomes = await Promise.all(
      decoded.map(async (m): Promise<ManifestOutcome> => {
        if (!m.ok) return { ref: `manifest ${String(m.index)}`, error: m.error };
        const ref = refOf(m.object);
        try {
          const live = await objects.apply(prepareManifest(m.object, ns, name));
          if (drift !== undefined) {
            drift.ensure(await objects.resource(m.object.apiVersion, m.object.kind));
            observed.push({
              kind: live.kind,
              apiVersion: live.apiVersion,
              namespace: live.metadata.namespace ?? '',
              name: live.metadata.name ?? '',
              ...(live.status === undefined ? {} : { observedStatus: live.status }),
            });
          }
          return { ref };
        } catch (err) {
          return { ref, error: `applying ${ref}: ${message(err)}` };
        }
      }),
    );
    const phase = descriptionPhase(outcomes);
    await this.writeStatus(d, phase, drift === undefined ? undefined : observed);
    this.deps.onEvent?.(
      key,
      phase.phase === 'Success' ? 'SuccessfullyDeployed' : 'UnSuccessfullyDeployed',
      phase.reason,
    );
    // Decode errors wait for a new spec; failed applies are tried again with backoff.
    const failedApplies = outcomes.filter((o, i) => o.error !== undefined && decoded[i]?.ok === true).length;
    if (failedApplies > 0) throw new Error(`FailedSynced ${key}: ${phase.reason}`);
  }

  private path(d: Description, sub = ''): string {
    return `${descriptionsPath(d.metadata.namespace ?? '')}/${encodeURIComponent(d.metadata.name ?? '')}${sub}`;
  }

  /** PUT of the whole Description with other finalizers; undefined when it is gone. */
  private async put(d: Description, finalizers: string[], what: string): Promise<Description | undefined> {
    const body: Description = { ...d, metadata: { ...d.metadata, finalizers } };
    const res = await rawRequest(this.deps.parent, { method: 'PUT', path: this.path(d), body: JSON.stringify(body) });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new ParentWriteError(`${what} of Description ${this.path(d)}`, res);
    const updated = JSON.parse(res.body) as Description;
    this.deps.store.remember(updated);
    return updated;
  }

  /** PUT …/status only if it changed; on a conflict GET and try again (at most 5 attempts). */
  private async writeStatus(
    d: Description,
    phase: { phase: string; reason: string },
    observed: readonly ManifestStatus[] | undefined,
  ): Promise<void> {
    let current: Description = d;
    for (let attempt = 1; attempt <= 5; attempt++) {
      const status: DescriptionStatus | undefined = nextDescriptionStatus(current.status, phase, observed);
      if (status === undefined) return;
      const res = await rawRequest(this.deps.parent, {
        method: 'PUT',
        path: this.path(current, '/status'),
        body: JSON.stringify({ ...current, status }),
      });
      if (res.status === 200) {
        this.deps.store.remember(JSON.parse(res.body) as Description);
        return;
      }
      if (res.status === 404) return;
      if (res.status !== 409 || attempt === 5) {
        throw new ParentWriteError(`writing the status of Description ${this.path(d)}`, res);
      }
      const fresh = await rawRequest(this.deps.parent, { method: 'GET', path: this.path(current) });
      if (fresh.status === 404) return;
      if (fresh.status !== 200) throw new ParentWriteError(`reading Description ${this.path(d)}`, fresh);
      current = JSON.parse(fresh.body) as Description;
    }
  }
}
