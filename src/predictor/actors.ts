// The predictor statechart with its real effects: list-then-watch of the child's nodes and pods into
// the reduced caches, and the HTTP listener on loopback (spec predictor §1).

import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { concatMap, map, type Observable } from 'rxjs';
import { fromCallback, fromEventObservable } from 'xstate';
import { predictorMachine, type PredictorEvent } from '../../machines/predictor/machine.ts';
import { predictorDelays } from '../../machines/predictor/timing.ts';
import { isMark, listPaged, listWatch$, together$, type ListWatchMark, type ResumePoint } from '../kube/list-watch.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';
import type { Logger } from '../logging/logger.ts';
import { predict, type PodLike, type Prediction, type Requirements } from './algorithm.ts';
import { PodUsage, PredictorNodes, type NodeObject } from './caches.ts';
import { createPredictorServer } from './server.ts';

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

/** The resume point of the cache in use (a relist replaces the cache when complete). */
const resumeOf = (cache: () => { resourceVersion: string | undefined }): ResumePoint => ({
  get resourceVersion() {
    return cache().resourceVersion;
  },
  set resourceVersion(v: string | undefined) {
    cache().resourceVersion = v;
  },
});

/** The node cache's list-watch: a relist fills a fresh cache that replaces the old one when complete. */
function nodes$(deps: PredictorDeps, caches: PredictorCaches): Observable<ListWatchMark> {
  const { child, limiter } = deps;
  const list = async (): Promise<void> => {
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
  };
  const resume = resumeOf(() => caches.nodes);
  return listWatch$<NodeItem>({ kc: child, path: '/api/v1/nodes', what: 'node', resume, limiter, list }).pipe(
    concatMap((e): ListWatchMark[] => {
      if (isMark(e)) return [e];
      if (e.type === 'bookmark') return [];
      caches.nodes.resourceVersion = e.object.metadata?.resourceVersion ?? caches.nodes.resourceVersion;
      if (e.type === 'deleted') caches.nodes.delete(e.object.metadata?.name ?? '');
      else caches.nodes.set(e.object);
      return [];
    }),
  );
}

/** The pod cache's list-watch, as the nodes'. */
function pods$(deps: PredictorDeps, caches: PredictorCaches): Observable<ListWatchMark> {
  const { child, limiter } = deps;
  const list = async (): Promise<void> => {
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
  };
  const resume = resumeOf(() => caches.pods);
  return listWatch$<PodObject>({ kc: child, path: '/api/v1/pods', what: 'pod', resume, limiter, list }).pipe(
    concatMap((e): ListWatchMark[] => {
      if (isMark(e)) return [e];
      if (e.type === 'bookmark') return [];
      caches.pods.resourceVersion = e.object.metadata?.resourceVersion ?? caches.pods.resourceVersion;
      const key = podKey(e.object);
      if (key === undefined) return [];
      if (e.type === 'deleted') caches.pods.delete(key);
      else caches.pods.set(key, e.object);
      return [];
    }),
  );
}

/**
 * The watchCaches actor's events: both kinds listed (when there is no resume point) and watched;
 * `caches.synced` once both are complete, `caches.watchEnded` once, when either watch ends (the other
 * is stopped). Predictions never see half a list.
 */
export function cacheEvents$(deps: PredictorDeps, caches: PredictorCaches): Observable<PredictorEvent> {
  return together$<never>([nodes$(deps, caches), pods$(deps, caches)]).pipe(
    map((e): PredictorEvent =>
      e.type === 'synced' ? { type: 'caches.synced' } : { type: 'caches.watchEnded', kind: e.type, message: e.message },
    ),
  );
}

/** The predictor statechart with the real effects provided. */
export function createPredictorMachine(deps: PredictorDeps): typeof predictorMachine {
  const caches = deps.caches ?? new PredictorCaches();
  const random = deps.random ?? Math.random;
  const { log } = deps;
  return predictorMachine.provide({
    actors: {
      watchCaches: fromEventObservable<PredictorEvent, undefined>(() => cacheEvents$(deps, caches)),
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
    delays: predictorDelays(random),
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
