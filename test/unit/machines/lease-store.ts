// An in-memory Lease with an apiserver's optimistic concurrency, for leadership tests under a simulated
// clock: reads and writes answer after `latencyMs`, never while paused (like a SIGSTOPped apiserver).

import { Observable } from 'rxjs';
import { fromEventObservable, fromPromise, type SimulatedClock } from 'xstate';
import { releasedRecord, type LeaseRecord } from '../../../machines/leadership/decisions.ts';
import type { LeadershipEvent, LeaseRead, WriteInput, WriteResult } from '../../../machines/leadership/machine.ts';

export class FakeLeaseStore {
  record: LeaseRecord | undefined;
  version = 0;
  paused = false;
  latencyMs = 0;
  /** Every successful write: who wrote what, when. */
  readonly writes: { at: number; record: LeaseRecord }[] = [];
  /** The annotations the Lease was last created with. */
  annotations: Readonly<Record<string, string>> | undefined;
  readonly #clock: SimulatedClock;
  /** Watchers, told of every write (after the write's latency, like a watch event). */
  readonly #watchers = new Set<() => void>();
  /** When false, watches deliver nothing (as when the watch cannot be established). */
  watchable = true;
  /** The replicas' wall clock minus the simulated (steady) one: a wall clock stepped since start. */
  wallOffsetMs = 0;

  constructor(clock: SimulatedClock) {
    this.#clock = clock;
  }

  #answer<T>(f: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const go = (): void => {
        if (this.paused) return; // hangs, as a request to a stopped server does
        try {
          resolve(f());
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      };
      if (this.latencyMs === 0) queueMicrotask(go);
      else this.#clock.setTimeout(go, this.latencyMs);
    });
  }

  /** The Lease as it is when the request arrives; the answer takes `latencyMs` to come back. */
  read(): Promise<LeaseRead> {
    const record = this.record;
    const resourceVersion = record === undefined ? undefined : String(this.version);
    return this.#answer(() => ({
      record,
      resourceVersion,
      at: this.#clock.now(),
      wallAt: this.#clock.now() + this.wallOffsetMs,
    }));
  }

  write(input: WriteInput): Promise<WriteResult> {
    const sentAt = this.#clock.now();
    return this.#answer(() => {
      if (input.action === 'create' && this.record !== undefined) throw new Error('409 AlreadyExists');
      if (input.action === 'update' && input.resourceVersion !== String(this.version)) throw new Error('409 Conflict');
      this.record = input.record;
      if (input.action === 'create') this.annotations = input.annotations;
      this.version += 1;
      this.writes.push({ at: this.#clock.now(), record: input.record });
      this.#notify();
      return { sentAt, at: this.#clock.now(), resourceVersion: String(this.version) };
    });
  }

  release(identity: string): Promise<undefined> {
    return this.#answer(() => {
      if (this.record?.holderIdentity === identity) {
        this.record = releasedRecord(this.record, this.#clock.now() + this.wallOffsetMs);
        this.version += 1;
        this.writes.push({ at: this.#clock.now(), record: this.record });
        this.#notify();
      }
      return undefined;
    });
  }

  #notify(): void {
    if (!this.watchable) return;
    for (const w of this.#watchers) queueMicrotask(w);
  }

  /** The leadership machine's actors, against this store. */
  actors() {
    return {
      readLease: fromPromise<LeaseRead>(() => this.read()),
      writeLease: fromPromise<WriteResult, WriteInput>(({ input }) => this.write(input)),
      watchLease: fromEventObservable(
        () =>
          new Observable<LeadershipEvent>((subscriber) => {
            const w = (): void => {
              subscriber.next({ type: 'lease.changed' });
            };
            this.#watchers.add(w);
            return () => this.#watchers.delete(w);
          }),
      ),
      releaseLease: fromPromise<undefined, { readonly identity: string }>(({ input }) => this.release(input.identity)),
    };
  }
}

/** Lets promise actors settle, then advances simulated time in steps (so timers fire in order). */
export async function settle(clock: SimulatedClock, ms = 0, stepMs = 100): Promise<void> {
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  await flush();
  for (let left = ms; left > 0; left -= stepMs) {
    clock.increment(Math.min(stepMs, left));
    await flush();
  }
}
