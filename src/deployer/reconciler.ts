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
  nextDescriptionStatus,
  prepareManifest,
  type Description,
  type DescriptionStatus,
  type KubeObject,
  type ManifestOutcome,
  type ManifestStatus,
} from '../../machines/deployer/decisions.ts';
import type { ChildObjects } from './child-objects.ts';
import { descriptionsPath, type DescriptionStore } from './descriptions.ts';
import type { DriftWatches } from './drift.ts';
import { ParentObjects } from './parent-writes.ts';

export interface ReconcilerDeps {
  readonly parent: KubeConfig;
  readonly objects: ChildObjects;
  readonly store: DescriptionStore;
  /** Set when Recovery is on: applied kinds are watched and manifest statuses reported. */
  readonly drift: DriftWatches | undefined;
  readonly deploys: boolean;
  readonly onEvent?: (key: string, what: string, detail?: string) => void;
}

const fromBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const refOf = (o: KubeObject): string =>
  `${o.kind} ${o.metadata.namespace === undefined ? '' : `${o.metadata.namespace}/`}${o.metadata.name ?? ''}`;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class DescriptionReconciler {
  private readonly deps: ReconcilerDeps;
  private readonly descriptions: ParentObjects<Description, DescriptionStatus>;

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
    this.descriptions = new ParentObjects(deps.parent, { collection: descriptionsPath, store: deps.store });
  }

  async reconcile(key: string): Promise<void> {
    const { deploys, onEvent } = this.deps;
    const decided = await this.descriptions.decide(key, (d) => decideDescription(d, deploys), onEvent);
    if (decided === undefined) return;
    const { object: d, action } = decided;
    if (action === 'offload') await this.offload(key, d);
    else if (action === 'apply') await this.apply(key, d);
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
    await this.descriptions.releaseFinalizer(d);
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

  /** PUT …/status only if it changed (at most 5 attempts). */
  private async writeStatus(
    d: Description,
    phase: { phase: string; reason: string },
    observed: readonly ManifestStatus[] | undefined,
  ): Promise<void> {
    await this.descriptions.writeStatus(d, (current) => nextDescriptionStatus(current, phase, observed));
  }
}
