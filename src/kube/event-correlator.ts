// What client-go's event correlator decides before an Event is written (tools/record), pure: time is
// an argument (steady time for its windows, wall time for what it writes), state is three bounded LRU
// caches. In order, for each event:
// 1. aggregation: more than 9 distinct messages for one object+type+reason within 10 minutes become one
//    event "(combined from similar events): <message>";
// 2. counting: an event seen before (same source, object, type, reason, message) is a PATCH of the
//    existing Event's count / lastTimestamp / message rather than a new object;
// 3. spam filter: per source+object a token bucket of 25 events refilled by one every 5 minutes; an
//    event without a token is dropped (it still counts in step 2, as in client-go).

import { rfc3339Seconds } from './meta-time.ts';
import { tryTake, type BucketRate, type TokenBucket } from './token-bucket.ts';

export type EventType = 'Normal' | 'Warning';

/** core/v1 ObjectReference of the object an Event is about. */
export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly fieldPath?: string;
}

/** What a component reports: an object, Normal or Warning, a CamelCase reason and a message. */
export interface ObjectEvent {
  readonly involved: InvolvedObject;
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
}

/** A core/v1 Event as the recorder writes it. */
export interface CoreEvent {
  readonly apiVersion: 'v1';
  readonly kind: 'Event';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion?: string };
  readonly involvedObject: InvolvedObject;
  readonly reason: string;
  readonly message: string;
  readonly type: EventType;
  readonly source: { readonly component: string; readonly host?: string };
  readonly firstTimestamp: string;
  readonly lastTimestamp: string;
  readonly count: number;
  readonly reportingComponent: string;
  readonly reportingInstance: string;
}

/** The strategic-merge patch of a repeated event. */
export interface EventPatch {
  readonly count: number;
  readonly lastTimestamp: string;
  readonly message?: string;
}

/** `<object name>.<hex nanoseconds>`, the name client-go gives a new Event. */
export const eventName = (objectName: string, nanos: bigint): string => `${objectName}.${nanos.toString(16)}`;

/** Nanoseconds for a new event name: from the clock, but always above the previous one (no clashes). */
export const nextNanos = (previous: bigint, nowMs: number): bigint => {
  const fromClock = BigInt(Math.floor(nowMs)) * 1_000_000n;
  return fromClock > previous ? fromClock : previous + 1n;
};

/** A new Event (count 1) about an object, in the object's namespace (`default` for cluster objects). */
export function makeEvent(
  e: ObjectEvent,
  source: { readonly component: string; readonly host?: string },
  nowMs: number,
  nanos: bigint,
): CoreEvent {
  const t = rfc3339Seconds(nowMs);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: eventName(e.involved.name, nanos),
      namespace: e.involved.namespace === undefined || e.involved.namespace === '' ? 'default' : e.involved.namespace,
    },
    involvedObject: e.involved,
    reason: e.reason,
    message: e.message,
    type: e.type,
    source,
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
    reportingComponent: source.component,
    reportingInstance: source.host ?? '',
  };
}

const objectParts = (e: CoreEvent): string[] => [
  e.source.component,
  e.source.host ?? '',
  e.involvedObject.kind,
  e.involvedObject.namespace ?? '',
  e.involvedObject.name,
];

/** Same event: source, object (with field path), type, reason and message. */
export const eventKey = (e: CoreEvent): string =>
  [
    ...objectParts(e),
    e.involvedObject.fieldPath ?? '',
    e.involvedObject.uid ?? '',
    e.involvedObject.apiVersion,
    e.type,
    e.reason,
    e.message,
  ].join('');

/** Spam-filter key: source and object. */
export const spamKey = (e: CoreEvent): string =>
  [...objectParts(e), e.involvedObject.uid ?? '', e.involvedObject.apiVersion].join('');

/** Aggregation group (source, object, type, reason, reporter) and the event's place in it (its message). */
export const aggregateKey = (e: CoreEvent): { readonly group: string; readonly local: string } => ({
  group: [
    ...objectParts(e),
    e.involvedObject.uid ?? '',
    e.involvedObject.apiVersion,
    e.type,
    e.reason,
    e.reportingComponent,
    e.reportingInstance,
  ].join(''),
  local: e.message,
});

/** A Map that forgets its least recently used entry beyond `cap`. */
export class Lru<V> {
  private readonly cap: number;
  private readonly entries = new Map<string, V>();

  constructor(cap: number) {
    this.cap = cap;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.cap) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }
}

export interface CorrelatorOptions {
  /** Entries per cache (client-go: 4096). */
  readonly cacheSize: number;
  /** Spam filter per source+object (client-go: burst 25, one more every 300 s). */
  readonly spam: BucketRate;
  /** Distinct messages before aggregation (client-go: 10) within `aggregateWindowMs` (600 s). */
  readonly aggregateMaxEvents: number;
  readonly aggregateWindowMs: number;
}

export const clientGoCorrelation: CorrelatorOptions = {
  cacheSize: 4096,
  spam: { perSecond: 1 / 300, burst: 25 },
  aggregateMaxEvents: 10,
  aggregateWindowMs: 600_000,
};

interface AggregateRecord {
  readonly localKeys: Set<string>;
  readonly lastMs: number;
}

interface EventLog {
  readonly count: number;
  readonly firstTimestamp: string;
  readonly name: string;
  readonly resourceVersion: string | undefined;
}

/**
 * When an event is correlated: `steadyMs` measures the aggregation window and the spam filter (a wall
 * clock set back would otherwise mute an object until it caught up; Go's monotonic readings do the
 * same), `wallMs` is the time written into an aggregate Event.
 */
export interface CorrelationTime {
  readonly steadyMs: number;
  readonly wallMs: number;
}

export type Correlation =
  { readonly skip: true } | { readonly skip: false; readonly event: CoreEvent; readonly patch: EventPatch | undefined };

export class EventCorrelator {
  private readonly opts: CorrelatorOptions;
  private readonly aggregates: Lru<AggregateRecord>;
  private readonly logs: Lru<EventLog>;
  private readonly spam: Lru<TokenBucket>;

  constructor(opts: CorrelatorOptions = clientGoCorrelation) {
    this.opts = opts;
    this.aggregates = new Lru(opts.cacheSize);
    this.logs = new Lru(opts.cacheSize);
    this.spam = new Lru(opts.cacheSize);
  }

  /** What to write for `event` at `now`; `nanos` names an aggregate event if one is made. */
  correlate(event: CoreEvent, now: CorrelationTime, nanos: bigint): Correlation {
    const { event: aggregated, key } = this.aggregate(event, now, nanos);
    const { event: observed, patch } = this.observe(aggregated, key);
    if (this.filtered(observed, now.steadyMs)) return { skip: true };
    return { skip: false, event: observed, patch };
  }

  /** After a successful write: remember the server's name and resourceVersion for the next repeat. */
  updateState(written: CoreEvent): void {
    this.logs.set(eventKey(written), {
      count: written.count,
      firstTimestamp: written.firstTimestamp,
      name: written.metadata.name,
      resourceVersion: written.metadata.resourceVersion,
    });
  }

  private aggregate(event: CoreEvent, now: CorrelationTime, nanos: bigint): { event: CoreEvent; key: string } {
    const { group, local } = aggregateKey(event);
    const nowMs = now.steadyMs;
    let record = this.aggregates.get(group);
    if (record === undefined || nowMs - record.lastMs > this.opts.aggregateWindowMs) {
      record = { localKeys: new Set(), lastMs: nowMs };
    }
    record.localKeys.add(local);
    this.aggregates.set(group, { localKeys: record.localKeys, lastMs: nowMs });
    if (record.localKeys.size < this.opts.aggregateMaxEvents) return { event, key: eventKey(event) };
    // Keep the set below the threshold: the next distinct message aggregates again.
    const first = record.localKeys.values().next();
    if (first.done !== true) record.localKeys.delete(first.value);
    const t = rfc3339Seconds(now.wallMs);
    return {
      event: {
        ...event,
        metadata: { name: eventName(event.involvedObject.name, nanos), namespace: event.metadata.namespace },
        message: `(combined from similar events): ${event.message}`,
        firstTimestamp: t,
        lastTimestamp: t,
        count: 1,
      },
      key: group,
    };
  }

  private observe(event: CoreEvent, key: string): { event: CoreEvent; patch: EventPatch | undefined } {
    const last = this.logs.get(key);
    let observed = event;
    let patch: EventPatch | undefined;
    if (last !== undefined && last.count > 0) {
      observed = {
        ...event,
        metadata: {
          name: last.name,
          namespace: event.metadata.namespace,
          ...(last.resourceVersion === undefined ? {} : { resourceVersion: last.resourceVersion }),
        },
        firstTimestamp: last.firstTimestamp,
        count: last.count + 1,
      };
      patch = {
        count: observed.count,
        lastTimestamp: observed.lastTimestamp,
        ...(observed.message === '' ? {} : { message: observed.message }),
      };
    }
    this.logs.set(key, {
      count: observed.count,
      firstTimestamp: observed.firstTimestamp,
      name: observed.metadata.name,
      resourceVersion: observed.metadata.resourceVersion,
    });
    return { event: observed, patch };
  }

  private filtered(event: CoreEvent, nowMs: number): boolean {
    const key = spamKey(event);
    const bucket = this.spam.get(key) ?? { tokens: this.opts.spam.burst, atMs: nowMs };
    const { taken, bucket: next } = tryTake(bucket, this.opts.spam, nowMs);
    this.spam.set(key, next);
    return !taken;
  }
}
