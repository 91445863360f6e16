// The metrics component-base gives Go Kubernetes components, under the names operators' dashboards and
// alerts use: rest_client_* for every API request (parent and child), workqueue_* for the deployer's
// queue, leader_election_master_status. Fed here without touching the code they measure:
//
// - rest_client_*: the diagnostics channels of both HTTP stacks, the lowest points they have, with no
//   edit to the code that makes the requests: undici's `undici:request:*` (client-node's typed APIs) and
//   Node's `http.client.*` (src/kube/raw-request.ts, the tunnel's websocket);
// - workqueue_*: the deployer's work queue as its snapshots show it (pending, active), and its
//   `work.retry` events, read from the actor system's inspection events.

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Counter, Gauge, Histogram, type Registry } from './prom-client.ts';
import type { InspectionEvent } from 'xstate';

/** client-go's buckets for rest_client_request_duration_seconds. */
const restBuckets = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
/** component-base's workqueue buckets: 1 µs to 10 s, by tens. */
const queueBuckets = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10];

/** What the metrics read of an undici request (its diagnostics channel messages). */
interface UndiciRequest {
  readonly origin: string | URL;
  readonly method: string;
}

/** host:port, as client-go's `host` label (the URL's host). */
function hostOf(request: ClientRequest): string {
  const header = request.getHeader('host');
  return typeof header === 'string' ? header : request.host;
}
const undiciHost = (request: UndiciRequest): string => {
  try {
    return new URL(String(request.origin)).host;
  } catch {
    return String(request.origin);
  }
};

export class RestClientMetrics {
  readonly requests: Counter<'host' | 'verb' | 'code'>;
  readonly duration: Histogram<'host' | 'verb'>;
  readonly #started = new WeakMap<object, number>();
  readonly #onStart = (message: unknown): void => {
    const { request } = message as { request: ClientRequest };
    this.#started.set(request, performance.now());
  };
  readonly #onResponse = (message: unknown): void => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    this.#done(request, String(response.statusCode ?? 0), hostOf(request), request.method);
  };
  readonly #onError = (message: unknown): void => {
    const { request } = message as { request: ClientRequest };
    this.#done(request, '<error>', hostOf(request), request.method);
  };
  readonly #onUndiciHeaders = (message: unknown): void => {
    const { request, response } = message as { request: UndiciRequest; response: { statusCode: number } };
    this.#done(request, String(response.statusCode), undiciHost(request), request.method);
  };
  readonly #onUndiciError = (message: unknown): void => {
    const { request } = message as { request: UndiciRequest };
    this.#done(request, '<error>', undiciHost(request), request.method);
  };
  readonly #channels: readonly (readonly [string, (message: unknown) => void])[] = [
    ['http.client.request.start', this.#onStart],
    ['http.client.response.finish', this.#onResponse],
    ['http.client.request.error', this.#onError],
    ['undici:request:create', this.#onStart],
    ['undici:request:headers', this.#onUndiciHeaders],
    ['undici:request:error', this.#onUndiciError],
  ];

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests to the apiservers (parent and child), partitioned by status code, method, and host',
      labelNames: ['host', 'verb', 'code'] as const,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'rest_client_request_duration_seconds',
      help: 'Request latency in seconds (until the response headers), broken down by verb and host',
      labelNames: ['host', 'verb'] as const,
      buckets: restBuckets,
      registers: [registry],
    });
    for (const [name, handler] of this.#channels) subscribe(name, handler);
  }

  #done(request: object, code: string, host: string, method: string): void {
    const started = this.#started.get(request);
    if (started === undefined) return; // counted once: an error after the response is not a second request
    this.#started.delete(request);
    const verb = method.toUpperCase();
    this.requests.inc({ host, verb, code });
    this.duration.observe({ host, verb }, (performance.now() - started) / 1000);
  }

  /** Stops observing (the channels are the process's). */
  close(): void {
    for (const [name, handler] of this.#channels) unsubscribe(name, handler);
  }
}

/** What the queue metrics read of a deployer snapshot's context. */
interface QueueView {
  readonly queue?: { readonly pending?: readonly string[]; readonly active?: readonly string[] };
}

/** The queue a work key belongs to: HelmRelease keys carry their kind as a prefix (machines/deployer). */
export type QueueName = (key: string) => string;

export class WorkQueueMetrics {
  readonly adds: Counter<'name'>;
  readonly depth: Gauge<'name'>;
  readonly queueDuration: Histogram<'name'>;
  readonly workDuration: Histogram<'name'>;
  readonly retries: Counter<'name'>;
  /** When each pending key was added, and when each active key started. */
  readonly #addedAt = new Map<string, number>();
  readonly #startedAt = new Map<string, number>();
  readonly #names: readonly string[];
  readonly nameOf: QueueName;
  readonly #now: () => number;

  constructor(registry: Registry, nameOf: QueueName, names: readonly string[], now = (): number => performance.now()) {
    this.nameOf = nameOf;
    this.#now = now;
    const m = { labelNames: ['name'] as const, registers: [registry] };
    this.adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', ...m });
    this.depth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', ...m });
    this.queueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      buckets: queueBuckets,
      ...m,
    });
    this.workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      buckets: queueBuckets,
      ...m,
    });
    this.retries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      ...m,
    });
    this.#names = names;
    for (const name of names) {
      this.adds.inc({ name }, 0);
      this.depth.set({ name }, 0);
      this.retries.inc({ name }, 0);
    }
  }

  /** Feeds the metrics from one state of the queue: what was added, started and finished since the last. */
  observe(pending: readonly string[], active: readonly string[]): void {
    const t = this.#now();
    const seconds = (since: number): number => Math.max(0, t - since) / 1000;
    for (const key of pending) {
      if (this.#addedAt.has(key)) continue;
      this.#addedAt.set(key, t);
      this.adds.inc({ name: this.nameOf(key) });
    }
    for (const key of active) {
      if (this.#startedAt.has(key)) continue;
      this.#startedAt.set(key, t);
      const added = this.#addedAt.get(key);
      if (added !== undefined) this.queueDuration.observe({ name: this.nameOf(key) }, seconds(added));
    }
    const stillPending = new Set(pending);
    for (const key of [...this.#addedAt.keys()]) if (!stillPending.has(key)) this.#addedAt.delete(key);
    const stillActive = new Set(active);
    for (const [key, started] of [...this.#startedAt]) {
      if (stillActive.has(key)) continue;
      this.#startedAt.delete(key);
      this.workDuration.observe({ name: this.nameOf(key) }, seconds(started));
    }
    const depth = new Map(this.#names.map((n) => [n, 0]));
    for (const key of pending) depth.set(this.nameOf(key), (depth.get(this.nameOf(key)) ?? 0) + 1);
    for (const [name, n] of depth) this.depth.set({ name }, n);
  }

  /** A key queued again after a failure (its backoff over). */
  retried(key: string): void {
    this.retries.inc({ name: this.nameOf(key) });
  }

  /** An inspect callback that feeds these metrics from the machine `machineId`'s snapshots and events. */
  inspector(machineId: string): (ev: InspectionEvent) => void {
    return (ev) => {
      if ((ev.actorRef as { logic?: { id?: string } }).logic?.id !== machineId) return;
      if (ev.type === '@xstate.snapshot') {
        const q = (ev.snapshot as { context?: QueueView }).context?.queue;
        if (q !== undefined) this.observe(q.pending ?? [], q.active ?? []);
      } else if (ev.type === '@xstate.event' && ev.event.type === 'work.retry') {
        const key = (ev.event as { key?: unknown }).key;
        if (typeof key === 'string') this.retried(key);
      }
    };
  }
}
