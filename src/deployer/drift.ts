// Recovery (spec §7.5): once a kind has been applied, a watch of that kind across the child's
// namespaces; a change to an object carrying the owner annotation queues its Description again,
// which re-applies it (drift corrected) and refreshes the manifest statuses. Each watch starts at the
// current resource version (no burst of ADDED events) and is started again after it ends. `stop()` (the
// end of a leadership term) also ends the lists and rate-limiter waits of watches still starting.

import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { ownerKey, type KubeObject } from '../../machines/deployer/decisions.ts';
import { failureMessage } from '../../machines/failure.ts';
import { rawRequest, statusText } from '../kube/raw-request.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';
import type { ChildObjects, ResourceRef } from './child-objects.ts';

export class DriftWatches {
  private readonly kc: KubeConfig;
  private readonly objects: ChildObjects;
  private readonly watches = new Map<string, AbortController | 'starting'>();
  private sink: ((key: string) => void) | undefined;
  /** Aborted by stop(): what is still starting gives up (and its rate-limiter token back). */
  private lifetime: AbortController | undefined;
  private readonly limiter: RequestLimiter | undefined;
  private readonly onFailure: (kind: string, message: string) => void;

  constructor(
    kc: KubeConfig,
    objects: ChildObjects,
    limiter: RequestLimiter | undefined,
    onFailure: (kind: string, message: string) => void,
  ) {
    this.kc = kc;
    this.objects = objects;
    this.limiter = limiter;
    this.onFailure = onFailure;
  }

  /** Drift is reported to `sink` until `stop()`. */
  start(sink: (key: string) => void): void {
    this.sink = sink;
    this.lifetime = new AbortController();
  }

  stop(): void {
    this.sink = undefined;
    this.lifetime?.abort(new Error('Recovery watches stopped'));
    this.lifetime = undefined;
    for (const w of this.watches.values()) if (w !== 'starting') w.abort();
    this.watches.clear();
  }

  private stopped(): boolean {
    return this.sink === undefined;
  }

  /** Makes sure the kind is watched (idempotent; a failed watch is retried at the next apply). */
  ensure(ref: ResourceRef): void {
    const id = `${ref.apiVersion}/${ref.kind}`;
    if (this.sink === undefined || this.watches.has(id)) return;
    this.watches.set(id, 'starting');
    const signal = this.lifetime?.signal;
    this.watch(id, ref, signal).catch((err: unknown) => {
      if (signal?.aborted === true) return;
      this.watches.delete(id);
      this.onFailure(id, failureMessage(err));
    });
  }

  private async watch(id: string, ref: ResourceRef, signal: AbortSignal | undefined): Promise<void> {
    const path = this.objects.collectionPath(ref, undefined);
    const list = await rawRequest(this.kc, { method: 'GET', path: `${path}?limit=1`, limiter: this.limiter, signal });
    if (list.status !== 200) throw new Error(`listing ${ref.plural}: ${statusText(list)}`);
    const resourceVersion = (JSON.parse(list.body) as { metadata?: { resourceVersion?: string } }).metadata
      ?.resourceVersion;
    if (this.stopped()) return;
    // The watch request waits for a token like any other; its events do not.
    await this.limiter?.wait(signal);
    if (this.stopped()) return;
    const controller = await new Watch(this.kc).watch(
      path,
      { allowWatchBookmarks: true, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
      (phase: string, obj: KubeObject) => {
        if (phase === 'BOOKMARK' || phase === 'ERROR') return;
        const key = ownerKey(obj.metadata.annotations);
        if (key === undefined) return;
        const report = (): void => this.sink?.(key);
        // The agent's own writes are no drift (and an apply that changes nothing writes nothing).
        if (phase === 'DELETED') report();
        else this.objects.observe(obj, report);
      },
      (err: unknown) => {
        if (this.watches.get(id) !== controller) return;
        this.watches.delete(id);
        if (err !== null && err !== undefined) {
          this.onFailure(id, err instanceof Error ? err.message : JSON.stringify(err));
          return;
        }
        this.ensure(ref); // a normal end (server timeout): watch again from now
      },
    );
    if (this.stopped() || signal?.aborted === true) controller.abort();
    else this.watches.set(id, controller);
  }
}
