// Kubernetes Events about objects in the parent (spec §7.1.3): what client-go's recorder does for the
// Go agent, with source.component `clusternet-agent`. `record` never blocks and never throws: the event
// joins a bounded queue (beyond it, events are dropped) that one sender drains in order, correlating
// each event (aggregation, counting, spam filter; event-correlator.ts) and writing it — a POST of a new
// Event, or a strategic-merge PATCH of the count of the existing one. A failed write is logged and
// dropped (client-go retries network errors for up to 2 minutes; an Event is not worth more memory).

import type { KubeConfig } from '@kubernetes/client-node';
import { steadyNow, wallNow, type Clock } from '../clock.ts';
import {
  EventCorrelator,
  makeEvent,
  nextNanos,
  type CoreEvent,
  type CorrelatorOptions,
  type EventPatch,
  type ObjectEvent,
} from './event-correlator.ts';
import { rawRequest, statusText } from './raw-request.ts';
import { failureMessage } from '../../machines/failure.ts';

export const agentComponent = 'clusternet-agent';

/** Where Events are written. `patch` answers undefined when the Event no longer exists. */
export interface EventSink {
  create(event: CoreEvent): Promise<CoreEvent>;
  patch(event: CoreEvent, patch: EventPatch): Promise<CoreEvent | undefined>;
}

const eventsPath = (ns: string): string => `/api/v1/namespaces/${encodeURIComponent(ns)}/events`;

/** Events written with a KubeConfig's credentials (the parent's dedicated ones for the agent). */
export function apiEventSink(kc: KubeConfig): EventSink {
  return {
    async create(event) {
      const res = await rawRequest(kc, {
        method: 'POST',
        path: eventsPath(event.metadata.namespace),
        body: JSON.stringify(event),
        timeoutMs: 10_000,
      });
      if (res.status !== 201 && res.status !== 200) {
        throw new Error(`creating Event ${event.metadata.name}: ${String(res.status)} ${statusText(res)}`);
      }
      return JSON.parse(res.body) as CoreEvent;
    },
    async patch(event, patch) {
      const res = await rawRequest(kc, {
        method: 'PATCH',
        path: `${eventsPath(event.metadata.namespace)}/${encodeURIComponent(event.metadata.name)}`,
        body: JSON.stringify(patch),
        contentType: 'application/strategic-merge-patch+json',
        timeoutMs: 10_000,
      });
      if (res.status === 404) return undefined;
      if (res.status !== 200) {
        throw new Error(`updating Event ${event.metadata.name}: ${String(res.status)} ${statusText(res)}`);
      }
      return JSON.parse(res.body) as CoreEvent;
    },
  };
}

export interface EventRecorderOptions {
  /** The sink at the time of sending; undefined drops the event (no credentials yet). */
  readonly sink: () => EventSink | undefined;
  readonly component?: string;
  /** Events waiting to be sent at most (client-go's broadcaster: 1000, dropping when full). */
  readonly queueCap?: number;
  readonly correlation?: CorrelatorOptions;
  /** Wall time: the Events' timestamps and names. */
  readonly now?: Clock;
  /** Steady time: the spam filter's and the aggregation's windows (a clock set back mutes nothing). */
  readonly steadyNow?: Clock;
  /** A write that failed or an event dropped, for a debug log line. */
  readonly onDropped?: (why: string, event: ObjectEvent) => void;
}

interface Queued {
  readonly event: ObjectEvent;
  readonly atMs: number;
}

export class EventRecorder {
  private readonly opts: EventRecorderOptions;
  private readonly correlator: EventCorrelator;
  private readonly queue: Queued[] = [];
  private readonly now: Clock;
  private readonly steadyNow: Clock;
  private lastNanos = 0n;
  private sending: Promise<void> | undefined;
  private overflowing = false;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
    this.correlator = new EventCorrelator(opts.correlation);
    this.now = opts.now ?? wallNow;
    this.steadyNow = opts.steadyNow ?? steadyNow;
  }

  /** Queues an event; returns at once. */
  record(event: ObjectEvent): void {
    if (this.queue.length >= (this.opts.queueCap ?? 1000)) {
      // Said once per overflow, not once per dropped event.
      if (!this.overflowing) this.dropped('the event queue is full', event);
      this.overflowing = true;
      return;
    }
    this.overflowing = false;
    this.queue.push({ event, atMs: this.now() });
    this.sending ??= this.drain();
  }

  /** Resolves when every queued event has been sent or dropped (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.sending !== undefined) await this.sending;
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      try {
        await this.send(next);
      } catch (err) {
        this.dropped(failureMessage(err), next.event);
      }
    }
    // Synchronously after finding the queue empty: a `record` from now on starts a new drain.
    this.sending = undefined;
  }

  /** Tells `onDropped`; a callback that throws must not stop the sender (nor make `record` throw). */
  private dropped(why: string, event: ObjectEvent): void {
    try {
      this.opts.onDropped?.(why, event);
    } catch {
      // Nothing left to tell it with: the event is dropped either way.
    }
  }

  private nanos(ms: number): bigint {
    this.lastNanos = nextNanos(this.lastNanos, ms);
    return this.lastNanos;
  }

  private async send({ event, atMs }: Queued): Promise<void> {
    const sink = this.opts.sink();
    if (sink === undefined) {
      this.dropped('no credentials for the parent yet', event);
      return;
    }
    const made = makeEvent(event, { component: this.opts.component ?? agentComponent }, atMs, this.nanos(atMs));
    const wallMs = this.now();
    const c = this.correlator.correlate(made, { steadyMs: this.steadyNow(), wallMs }, this.nanos(wallMs));
    if (c.skip) return;
    let written: CoreEvent | undefined;
    if (c.patch !== undefined && c.event.count > 1) written = await sink.patch(c.event, c.patch);
    if (written === undefined) {
      // New, or the Event to count up is gone (expired in the parent): create it.
      const { name, namespace } = c.event.metadata;
      written = await sink.create({ ...c.event, metadata: { name, namespace } });
    }
    this.correlator.updateState(written);
  }
}
