// The predictor statechart with its real effects: list-then-watch of the child's nodes and pods into
// the reduced caches, and the HTTP listener on loopback (spec predictor §1).

import type { WatchEnd } from '../../machines/watch.ts';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { fromCallback } from 'xstate';
import { nextDelay, type BackoffPolicy } from '../../machines/backoff.ts';
import { predictorMachine, type PredictorEvent } from '../../machines/predictor/machine.ts';
import { listPaged, listThenWatch } from '../kube/list-watch.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';
import type { Logger } from '../logging/logger.ts';
import { predict, type PodLike, type Prediction, type Requirements } from './algorithm.ts';
import { PodUsage, PredictorNodes, type NodeObject } from './caches.ts';
import { createPredictorServer } from './server.ts';

export const predictorWatchRetryPolicy: BackoffPolicy = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.3 };
export const listenRetryMs = 2_000;
const pageSize = 500;

type PodObject = PodLike & { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };
type NodeItem = NodeObject & { metadata?: { resourceVersion?: string } };

const podKey = (p: PodObject): string | undefined =>
  p.metadata?.name === undefined ? undefined : `${p.metadata.namespace ?? ''}/${p.metadata.name}`;

/** The reduced caches the predictor serves from. */
export class PredictorCaches {
  nodes = new PredictorNodes();
  pods = new PodUsage();

  predict(req: Requirements): Prediction {
    return predict(this.nodes.values(), (n) => this.pods.used(n), req);
  }
}

export interface PredictorDeps {
  readonly child: KubeConfig;
  readonly log: Logger;
  /** Where to listen: Go binds the host name `localhost` to one address, 127.0.0.1 in practice. */
  readonly host: string;
  readonly port: number;
  readonly limiter?: RequestLimiter | undefined;
  readonly caches?: PredictorCaches;
  readonly random?: () => number;
  /** Sees the listening address (tests and benchmarks listen on port 0). */
  readonly onListening?: (address: AddressInfo) => void;
}

/**
 * Lists (when there is no resume point) and watches both kinds; `synced` once both are complete,
 * `ended` once, when either watch ends (the other is stopped). A relist fills fresh caches that
 * replace the old ones when complete, so predictions never see half a list.
 */
function watchCaches(deps: PredictorDeps, caches: PredictorCaches, send: (e: PredictorEvent) => void): () => void {
  const { child, limiter } = deps;
  let synced = 0;
  let over = false;
  const stops: (() => void)[] = [];
  const ended = ({ kind, message }: WatchEnd): void => {
    if (over) return;
    over = true;
    for (const s of stops) s();
    send({ type: 'caches.watchEnded', kind, message });
  };
  const onSynced = (): void => {
    if (++synced === 2) send({ type: 'caches.synced' });
  };
  stops.push(
    listThenWatch<NodeItem>({
      kc: child,
      path: '/api/v1/nodes',
      what: 'node',
      resume: caches.nodes,
      limiter,
      list: async () => {
        const next = new PredictorNodes();
        next.resourceVersion = await listPaged<NodeItem>(
          child,
          '/api/v1/nodes',
          { what: 'nodes', limiter, pageSize },
          (page) => {
            for (const n of page) next.set(n);
          },
          () => {
            next.clear();
          },
        );
        caches.nodes = next;
      },
      synced: onSynced,
      event: (phase, node) => {
        caches.nodes.resourceVersion = node.metadata?.resourceVersion ?? caches.nodes.resourceVersion;
        if (phase === 'DELETED') caches.nodes.delete(node.metadata?.name ?? '');
        else if (phase === 'ADDED' || phase === 'MODIFIED') caches.nodes.set(node);
      },
      ended,
    }),
  );
  stops.push(
    listThenWatch<PodObject>({
      kc: child,
      path: '/api/v1/pods',
      what: 'pod',
      resume: caches.pods,
      limiter,
      list: async () => {
        const next = new PodUsage();
        const started = performance.now();
        next.resourceVersion = await listPaged<PodObject>(
          child,
          '/api/v1/pods',
          { what: 'pods', limiter, pageSize },
          (page) => {
            for (const p of page) {
              const key = podKey(p);
              if (key !== undefined) next.set(key, p);
            }
          },
          () => {
            next.clear();
          },
        );
        caches.pods = next;
        deps.log.info(
          { pods: next.size, nodes: caches.nodes.size, ms: Math.round(performance.now() - started) },
          `listed the pods of the child cluster for the predictor (${String(next.size)} take resources)`,
        );
      },
      synced: onSynced,
      event: (phase, pod) => {
        caches.pods.resourceVersion = pod.metadata?.resourceVersion ?? caches.pods.resourceVersion;
        const key = podKey(pod);
        if (key === undefined) return;
        if (phase === 'DELETED') caches.pods.delete(key);
        else if (phase === 'ADDED' || phase === 'MODIFIED') caches.pods.set(key, pod);
      },
      ended,
    }),
  );
  return () => {
    over = true;
    for (const s of stops) s();
  };
}

/** The predictor statechart with the real effects provided. */
export function createPredictorMachine(deps: PredictorDeps): typeof predictorMachine {
  const caches = deps.caches ?? new PredictorCaches();
  const random = deps.random ?? Math.random;
  const { log } = deps;
  return predictorMachine.provide({
    actors: {
      watchCaches: fromCallback<PredictorEvent>(({ sendBack }) => watchCaches(deps, caches, sendBack)),
      serve: fromCallback<PredictorEvent>(({ sendBack }) => {
        const server = createPredictorServer((req) => caches.predict(req));
        server.on('error', (err) => {
          sendBack({ type: 'server.listenFailed', message: err.message });
        });
        server.listen({ host: deps.host, port: deps.port, exclusive: true }, () => {
          const address = server.address() as AddressInfo;
          log.info(
            { address: `${address.address}:${String(address.port)}`, nodes: caches.nodes.size, pods: caches.pods.size },
            'serving the built-in predictor',
          );
          deps.onListening?.(address);
        });
        return () => {
          server.close();
          server.closeAllConnections();
        };
      }),
    },
    delays: {
      watchRetryDelay: ({ context }) => nextDelay(context.watchAttempt, predictorWatchRetryPolicy, random),
      listenRetryDelay: listenRetryMs,
    },
    actions: {
      warnListenFailed: ({ context }) => {
        log.warn(
          { err: context.lastFailure, port: deps.port },
          'cannot listen for the built-in predictor; trying again',
        );
      },
    },
  });
}
