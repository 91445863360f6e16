// Recovery (spec §7.5): once a kind has been applied, a watch of that kind across the child's
// namespaces; a change to an object carrying the owner annotation queues its Description again,
// which re-applies it (drift corrected) and refreshes the manifest statuses. The first watch of a kind
// starts at the current resource version (no burst of ADDED events); each next one resumes where the
// last ended (bookmarks move the point on), so a change made while no watch was open is still seen.
// After 410 Gone the kind is listed again and every owned object the agent did not write last counts
// as drift. An idle end is resumed by the watch stream itself (src/kube/watch-stream.ts); the other
// ends are reported to the statechart (`drift.watchEnded`), which decides when the kind is watched
// again and whether it is listed first (`drift.rewatch` with `relist`, machines/deployer/decisions.ts
// `driftRelistsAfter`, `driftWatchStart`): at once after an expiry, after a backoff after a failure.
// The whole is one stream (`events$`), its commands a stream too; unsubscribing (the end of a
// leadership term) also ends the lists and rate-limiter waits of watches still starting.

import type { KubeConfig } from '@kubernetes/client-node';
import { Observable } from 'rxjs';
import { driftWatchStart, ownerKey, type KubeObject } from '../../machines/deployer/decisions.ts';
import type { DeployerEvent } from '../../machines/deployer/machine.ts';
import { failureMessage } from '../../machines/failure.ts';
import { listPaged, watchPhase } from '../kube/list-watch.ts';
import { rawRequest, statusText } from '../kube/raw-request.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';
import { isWatchEnd, resumePointAfter, watch$ } from '../kube/watch-stream.ts';
import type { ChildObjects, ResourceRef } from './child-objects.ts';

export type DriftReport = Extract<DeployerEvent, { type: 'drift.detected' | 'drift.watchEnded' | 'drift.watching' }>;
/** The statechart's command: watch the kind again (listing it first when `relist`). */
export type DriftCommand = Extract<DeployerEvent, { type: 'drift.rewatch' }>;

interface KindWatch {
  readonly ref: ResourceRef;
  /** Where the next watch resumes (undefined: not known yet, or cleared by 410 Gone). */
  resourceVersion: string | undefined;
  /** Stops the running watch (or the start under way); undefined while the statechart decides. */
  stop: (() => void) | undefined;
}

export class DriftWatches {
  private readonly kc: KubeConfig;
  private readonly objects: ChildObjects;
  private readonly kinds = new Map<string, KindWatch>();
  private sink: ((e: DriftReport) => void) | undefined;
  /** Aborted by stop(): what is still starting gives up (and its rate-limiter token back). */
  private lifetime: AbortController | undefined;
  private readonly limiter: RequestLimiter | undefined;

  constructor(kc: KubeConfig, objects: ChildObjects, limiter: RequestLimiter | undefined) {
    this.kc = kc;
    this.objects = objects;
    this.limiter = limiter;
  }

  /**
   * Recovery as a stream: drift and the kinds' watch ends, for the kinds `ensure` is told of, from
   * subscription to unsubscription; `commands` are the statechart's drift.rewatch.
   */
  events$(commands: Observable<DriftCommand>): Observable<DriftReport> {
    return new Observable<DriftReport>((subscriber) => {
      this.start((e) => {
        subscriber.next(e);
      });
      const commanded = commands.subscribe((c) => {
        this.rewatch(c.resource, c.relist);
      });
      return () => {
        commanded.unsubscribe();
        this.stop();
      };
    });
  }

  private start(sink: (e: DriftReport) => void): void {
    this.sink = sink;
    this.lifetime = new AbortController();
  }

  private stop(): void {
    this.sink = undefined;
    this.lifetime?.abort(new Error('Recovery watches stopped'));
    this.lifetime = undefined;
    for (const w of this.kinds.values()) w.stop?.();
    this.kinds.clear();
  }

  /** Makes sure the kind is watched (idempotent: a kind already known is left to the statechart). */
  ensure(ref: ResourceRef): void {
    const id = `${ref.apiVersion}/${ref.kind}`;
    if (this.sink === undefined || this.kinds.has(id)) return;
    const w: KindWatch = { ref, resourceVersion: undefined, stop: undefined };
    this.kinds.set(id, w);
    this.run(id, w, false);
  }

  /** The statechart's decision: watch the kind again (after an end it was told of), listing it first when `relist`. */
  private rewatch(id: string, relist: boolean): void {
    const w = this.kinds.get(id);
    if (this.sink === undefined || w === undefined || w.stop !== undefined) return;
    this.run(id, w, relist);
  }

  private run(id: string, w: KindWatch, relist: boolean): void {
    const signal = this.lifetime?.signal;
    let over = false;
    const isOver = (): boolean => over;
    let stopWatch: (() => void) | undefined;
    w.stop = () => {
      over = true;
      stopWatch?.();
    };
    const ended = (kind: 'expired' | 'failed', message: string): void => {
      if (over || this.kinds.get(id) !== w) return;
      over = true;
      w.stop = undefined;
      if (kind === 'expired') w.resourceVersion = undefined;
      this.sink?.({ type: 'drift.watchEnded', resource: id, kind, message });
    };
    const start = async (): Promise<void> => {
      const from = driftWatchStart(w.resourceVersion, relist);
      if (from !== 'resume') w.resourceVersion = await this.resync(w, from, signal);
      if (isOver()) return;
      // The watch request waits for a token like any other; its events do not.
      await this.limiter?.wait(signal);
      if (isOver()) return;
      const subscription = watch$<KubeObject>({
        kc: this.kc,
        path: this.objects.collectionPath(w.ref, undefined),
        what: `Recovery ${id}`,
        resourceVersion: w.resourceVersion,
      }).subscribe((e) => {
        w.resourceVersion = resumePointAfter(e, w.resourceVersion);
        if (isWatchEnd(e)) ended(e.type, e.message);
        else if (e.type !== 'bookmark') this.observe(watchPhase[e.type], e.object);
      });
      stopWatch = () => {
        subscription.unsubscribe();
      };
      this.sink?.({ type: 'drift.watching', resource: id });
    };
    start().catch((err: unknown) => {
      if (signal?.aborted === true) return;
      ended('failed', `Recovery ${id}: ${failureMessage(err)}`);
    });
  }

  private observe(phase: string, o: KubeObject): void {
    const key = ownerKey(o.metadata.annotations);
    if (key === undefined) return;
    const report = (): void => this.sink?.({ type: 'drift.detected', key });
    // The agent's own writes are no drift (and an apply that changes nothing writes nothing).
    if (phase === 'DELETED') report();
    else this.objects.observe(o, report);
  }

  /**
   * The resource version to start from: the first time, the current one (a list of one item); after
   * 410 Gone, a full list in which every owned object the agent did not write last is drift.
   */
  private async resync(
    w: KindWatch,
    from: 'relist' | 'current',
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const path = this.objects.collectionPath(w.ref, undefined);
    if (from === 'relist') {
      const found: KubeObject[] = [];
      const rv = await listPaged<KubeObject>(
        this.kc,
        path,
        { what: w.ref.plural, limiter: this.limiter },
        (page) => found.push(...page),
        () => (found.length = 0),
      );
      // List items carry no apiVersion and kind of their own.
      for (const o of found) this.observe('MODIFIED', { ...o, apiVersion: w.ref.apiVersion, kind: w.ref.kind });
      return rv;
    }
    const list = await rawRequest(this.kc, { method: 'GET', path: `${path}?limit=1`, limiter: this.limiter, signal });
    if (list.status !== 200) throw new Error(`listing ${w.ref.plural}: ${statusText(list)}`);
    return (JSON.parse(list.body) as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
  }
}
