// One reconcile of one Description (spec §7.3): finalizer first, then either offload (a real deletion
// in the parent: delete the objects in the child, then release the finalizer) or apply every manifest
// with server-side apply and write the status back when it changed. A Description the store no longer
// has is left alone: its objects stay in the child (the parent may be mid-restore, or someone removed
// the finalizer by hand; only a deletion the agent saw may remove workloads). Along the way it reports
// the Go agent's Events (reasons and texts of its description controller and deployer) to `onEvent`.
// A reconcile ends early when its AbortSignal aborts (the leadership term ended): nothing more is written
// to either cluster, and no event or status reports the interruption.

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
import { failureMessage } from '../../machines/failure.ts';
import type { ObjectEvent } from '../kube/event-correlator.ts';
import type { ChildObjects } from './child-objects.ts';
import { descriptionsPath, type DescriptionStore } from './descriptions.ts';
import type { DriftWatches } from './drift.ts';
import { deployerEvents, type EventText } from './events.ts';
import { eventAbout, ParentObjects } from './parent-writes.ts';

export interface ReconcilerDeps {
  readonly parent: KubeConfig;
  readonly objects: ChildObjects;
  readonly store: DescriptionStore;
  /** Set when Recovery is on: applied kinds are watched and manifest statuses reported. */
  readonly drift: DriftWatches | undefined;
  /** Kubernetes Events about the Description, with the Go agent's reasons and messages (spec §7.3). */
  readonly onEvent?: (event: ObjectEvent) => void;
}

export const descriptionApiVersion = 'apps.clusternet.io/v1alpha1';

const fromBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const refOf = (o: KubeObject): string =>
  `${o.kind} ${o.metadata.namespace === undefined ? '' : `${o.metadata.namespace}/`}${o.metadata.name ?? ''}`;
const kobj = (d: Description): string => `${d.metadata.namespace ?? ''}/${d.metadata.name ?? ''}`;

/** The finalizer could not be added: the Go agent reports that, and no Synced / FailedSynced. */
class FinalizerError extends Error {}

export class DescriptionReconciler {
  private readonly deps: ReconcilerDeps;
  private readonly descriptions: ParentObjects<Description, DescriptionStatus>;

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
    this.descriptions = new ParentObjects(deps.parent, { collection: descriptionsPath, store: deps.store });
  }

  private event(d: Description, e: EventText): void {
    this.deps.onEvent?.(eventAbout(descriptionApiVersion, 'Description', d, e.type, e.reason, e.message));
  }

  /**
   * One reconcile, then the event `Synced`, or `FailedSynced` with the error (thrown again). When the
   * agent does not deploy (`deploys` false: Push, Dual with AppPusher) only the finalizer is injected
   * (spec §7.3 step 1, every sync mode): nothing is written to the child, and no status.
   */
  async reconcile(key: string, deploys: boolean, signal?: AbortSignal): Promise<void> {
    const d = this.deps.store.get(key);
    if (d === undefined) return;
    let failure: string | undefined;
    try {
      failure = await this.sync(d, deploys, signal);
    } catch (err) {
      signal?.throwIfAborted();
      if (!(err instanceof FinalizerError))
        this.event(this.deps.store.get(key) ?? d, deployerEvents.failedSynced(failureMessage(err)));
      throw err;
    }
    const latest = this.deps.store.get(key) ?? d;
    this.event(
      latest,
      failure === undefined ? deployerEvents.synced('Description') : deployerEvents.failedSynced(failure),
    );
  }

  /** Throws what is worth retrying; returns a failure that waits for a new spec. */
  private async sync(
    desc: Description,
    deploys: boolean,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    let d: Description | undefined = desc;
    let action = decideDescription(d, deploys);
    if (action === 'injectFinalizer') {
      try {
        d = await this.put(d, [...(d.metadata.finalizers ?? []), finalizer], 'adding the finalizer', signal);
      } catch (err) {
        signal?.throwIfAborted();
        const e = deployerEvents.failedInjectingFinalizer('Description', kobj(desc), failureMessage(err));
        this.event(desc, e);
        throw new FinalizerError(e.message, { cause: err });
      }
      if (d === undefined) return undefined;
      this.event(d, deployerEvents.finalizerInjected('Description', kobj(d)));
      action = decideDescription(d, deploys);
    }
    if (action === 'skip') return undefined;
    if (action === 'offload') {
      await this.offload(d, signal);
      return undefined;
    }
    return this.apply(d, signal);
  }

  /** The manifests, with the event FailedMarshalingResource for each one that does not decode. */
  private decode(d: Description): ReturnType<typeof decodeManifests> {
    const decoded = decodeManifests(d.spec?.raw, fromBase64);
    for (const m of decoded) {
      if (!m.ok) this.event(d, deployerEvents.failedMarshalingResource(m.error));
    }
    return decoded;
  }

  private async offload(d: Description, signal: AbortSignal | undefined): Promise<void> {
    const objects = this.decode(d).flatMap((m) => (m.ok ? [m.object] : []));
    const errors = (
      await Promise.all(
        objects.map((o) =>
          this.deps.objects.delete(o, signal).then(
            () => [],
            (err: unknown) => [`deleting ${refOf(o)}: ${failureMessage(err)}`],
          ),
        ),
      )
    ).flat();
    signal?.throwIfAborted();
    if (errors.length > 0) {
      this.event(d, deployerEvents.failedDeletingDescription(kobj(d), errors.join('; ')));
      throw new Error(errors.join('; '));
    }
    await this.put(
      d,
      (d.metadata.finalizers ?? []).filter((f) => f !== finalizer),
      'removing the finalizer',
      signal,
    );
  }

  private async apply(d: Description, signal: AbortSignal | undefined): Promise<string | undefined> {
    const { objects, drift } = this.deps;
    const ns = d.metadata.namespace ?? '';
    const name = d.metadata.name ?? '';
    const decoded = this.decode(d);
    const observed: ManifestStatus[] = [];
    const outcomes = await Promise.all(
      decoded.map(async (m): Promise<ManifestOutcome> => {
        if (!m.ok) return { ref: `manifest ${String(m.index)}`, error: m.error };
        const ref = refOf(m.object);
        try {
          const live = await objects.apply(prepareManifest(m.object, ns, name), { signal });
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
          return { ref, error: `applying ${ref}: ${failureMessage(err)}` };
        }
      }),
    );
    // Stopped meanwhile: the failures are the interruption's, not the Description's.
    signal?.throwIfAborted();
    const phase = descriptionPhase(outcomes);
    if (phase.phase === 'Success') {
      this.event(d, deployerEvents.successfullyDeployed(kobj(d)));
    } else {
      this.event(d, deployerEvents.unSuccessfullyDeployed(kobj(d), phase.reason));
    }
    await this.writeStatus(d, phase, drift === undefined ? undefined : observed, signal);
    // Decode errors wait for a new spec; failed applies are tried again with backoff.
    const failedApplies = outcomes.filter((o, i) => o.error !== undefined && decoded[i]?.ok === true).length;
    if (failedApplies > 0) throw new Error(phase.reason);
    return phase.phase === 'Success' ? undefined : phase.reason;
  }

  /** PUT of the whole Description with other finalizers; undefined when it is gone. */
  private put(
    d: Description,
    finalizers: string[],
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<Description | undefined> {
    return this.descriptions.putFinalizers(d, finalizers, what, signal);
  }

  /** PUT …/status only if it changed (conflicts retried as afterStatusWrite decides). */
  private async writeStatus(
    d: Description,
    phase: { phase: string; reason: string },
    observed: readonly ManifestStatus[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    await this.descriptions.writeStatus(d, (current) => nextDescriptionStatus(current, phase, observed), signal);
  }
}
