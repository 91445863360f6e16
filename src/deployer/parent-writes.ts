// Writes of the deployer to the objects of its dedicated namespace in the parent (Descriptions,
// HelmReleases): a full PUT for the finalizer (as the Go agent), and PUT …/status only when the status
// changed, with a fresh GET between conflicting attempts (`afterStatusWrite` decides, at most
// statusWriteAttempts, spec §7.3, §7.4 step 11). What was written is kept in the kind's store until the
// watch brings it. Every request takes the reconcile's AbortSignal: once the leadership term ends nothing more is written (another replica may lead).

import type { KubeConfig } from '@kubernetes/client-node';
import { afterStatusWrite, finalizer, type ObjectMeta } from '../../machines/deployer/decisions.ts';
import { statusWriteAttempts } from '../../machines/deployer/timing.ts';
import type { EventType, ObjectEvent } from '../kube/event-correlator.ts';
import { responseFailure } from '../kube/errors.ts';
import { rawRequest } from '../kube/raw-request.ts';

interface Named {
  readonly metadata: ObjectMeta;
}

/** An Event about an object of the dedicated namespace (involved object with its uid and version). */
export function eventAbout(
  apiVersion: string,
  kind: string,
  o: Named,
  type: EventType,
  reason: string,
  message: string,
): ObjectEvent {
  const { namespace, name = '', uid, resourceVersion } = o.metadata;
  return {
    involved: {
      apiVersion,
      kind,
      name,
      ...(namespace === undefined ? {} : { namespace }),
      ...(uid === undefined ? {} : { uid }),
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    },
    type,
    reason,
    message,
  };
}

export interface ParentKind<T> {
  /** The collection in a namespace, e.g. `/apis/…/namespaces/<ns>/descriptions`. */
  readonly collection: (namespace: string) => string;
  readonly store: { get(key: string): T | undefined; remember(o: T): void };
}

export class ParentObjects<T extends Named & { readonly status?: S }, S> {
  private readonly kc: KubeConfig;
  private readonly kind: ParentKind<T>;

  constructor(kc: KubeConfig, kind: ParentKind<T>) {
    this.kc = kc;
    this.kind = kind;
  }

  private path(o: T): string {
    return `${this.kind.collection(o.metadata.namespace ?? '')}/${encodeURIComponent(o.metadata.name ?? '')}`;
  }

  /** The stored copy of `<ns>/<name>`, else the parent's (GET); undefined when there is none. */
  async get(key: string, signal?: AbortSignal): Promise<T | undefined> {
    const known = this.kind.store.get(key);
    if (known !== undefined) return known;
    const [namespace = '', name = ''] = key.split('/');
    const path = `${this.kind.collection(namespace)}/${encodeURIComponent(name)}`;
    const res = await rawRequest(this.kc, { method: 'GET', path, signal });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw responseFailure(`reading ${path}`, res);
    return JSON.parse(res.body) as T;
  }

  /** PUT of the whole object with other finalizers; undefined when it is gone. */
  async putFinalizers(o: T, finalizers: readonly string[], what: string, signal?: AbortSignal): Promise<T | undefined> {
    const path = this.path(o);
    const body = JSON.stringify({ ...o, metadata: { ...o.metadata, finalizers } });
    const res = await rawRequest(this.kc, { method: 'PUT', path, body, signal });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw responseFailure(`${what} of ${path}`, res);
    const updated = JSON.parse(res.body) as T;
    this.kind.store.remember(updated);
    return updated;
  }

  /** Removes our finalizer (after a deletion was carried out). */
  async releaseFinalizer(o: T, signal?: AbortSignal): Promise<void> {
    const rest = (o.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    await this.putFinalizers(o, rest, 'removing the finalizer', signal);
  }

  /**
   * Spec §7.3 / §7.4 step 1: the stored object; when `decide` asks for our finalizer, it is added (full
   * PUT; `injected` hears of it), and the decision is made again on the updated object. Undefined when
   * the object is unknown or gone.
   */
  async decide<A extends string>(
    key: string,
    decide: (o: T) => A,
    injected?: (updated: T) => void,
    signal?: AbortSignal,
  ): Promise<{ object: T; action: A } | undefined> {
    const o = this.kind.store.get(key);
    if (o === undefined) return undefined;
    const action = decide(o);
    if (action !== 'injectFinalizer') return { object: o, action };
    const updated = await this.putFinalizers(
      o,
      [...(o.metadata.finalizers ?? []), finalizer],
      'adding the finalizer',
      signal,
    );
    if (updated === undefined) return undefined;
    injected?.(updated);
    return { object: updated, action: decide(updated) };
  }

  /**
   * PUT …/status with `next(current.status)` when it says something new; on a conflict GET and try
   * again, as `afterStatusWrite` decides (at most statusWriteAttempts). Returns the object as written, or
   * undefined when nothing was written.
   */
  async writeStatus(
    o: T,
    next: (current: S | undefined) => S | undefined,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    let current: T | undefined = o;
    for (let attempt = 1; current !== undefined; attempt++) {
      const step = await this.writeStatusOnce(current, next, attempt, signal);
      if (step.done) return step.written;
      current = step.reread;
    }
    return undefined;
  }

  /**
   * One attempt of a status write and what follows it: done (written, or nothing to write), or the
   * object read again for the next attempt (undefined when it is gone).
   */
  private async writeStatusOnce(
    current: T,
    next: (current: S | undefined) => S | undefined,
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<{ done: true; written: T | undefined } | { done: false; reread: T | undefined }> {
    const path = this.path(current);
    const status = next(current.status);
    if (status === undefined) return { done: true, written: undefined };
    const res = await rawRequest(this.kc, {
      method: 'PUT',
      path: `${path}/status`,
      body: JSON.stringify({ ...current, status }),
      signal,
    });
    switch (afterStatusWrite(res.status, attempt, statusWriteAttempts)) {
      case 'written': {
        const written = JSON.parse(res.body) as T;
        this.kind.store.remember(written);
        return { done: true, written };
      }
      case 'gone':
        return { done: true, written: undefined };
      case 'fail':
        throw responseFailure(`writing the status of ${path}`, res);
      case 'reread': {
        const fresh = await rawRequest(this.kc, { method: 'GET', path, signal });
        if (fresh.status === 404) return { done: false, reread: undefined };
        if (fresh.status !== 200) throw responseFailure(`reading ${path}`, fresh);
        return { done: false, reread: JSON.parse(fresh.body) as T };
      }
    }
  }
}
