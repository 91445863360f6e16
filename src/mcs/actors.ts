// The multi-cluster service statechart with its real effects: the child's /version, the child watches
// of ServiceExports and EndpointSlices (the agent's own credentials, its own --kube-api-qps/burst
// bucket as the Go agent's separate MCS client has), and reconciles writing to the parent with the
// dedicated credentials.

import type { KubeConfig } from '@kubernetes/client-node';
import { fromCallback, fromEventObservable, fromPromise } from 'xstate';
import { failureKind, failureMessage } from '../../machines/failure.ts';
import { mcsMachine, type McsEvent, type ReconcileInput, type WatchInput } from '../../machines/mcs/machine.ts';
import { mcsDelays } from '../../machines/mcs/timing.ts';
import type { AgentConfig } from '../config/config.ts';
import { rawRequest, statusText } from '../kube/raw-request.ts';
import { childRequestLimiter, type RequestLimiter } from '../kube/request-limiter.ts';
import type { Logger } from '../logging/logger.ts';
import { loadParentAccess, type ParentAccess } from '../parent/access.ts';
import { endpointSlicesPath, ExportCache, serviceExportsPath, SliceCache, cacheEvents$ } from './caches.ts';
import { ExportReconciler } from './reconciler.ts';

export interface McsDeps {
  readonly config: AgentConfig;
  /** The child with the agent's own credentials. */
  readonly child: KubeConfig;
  readonly log: Logger;
  /** The parent with the dedicated credentials; by default read from the child Secret `parent-cluster`. */
  readonly parent?: () => Promise<ParentAccess>;
  readonly childLimiter?: RequestLimiter;
  readonly random?: () => number;
}

/** The caches, for tests and benches that look inside. */
export interface McsState {
  readonly exports: ExportCache;
  readonly slices: SliceCache;
}

/** The syncer statechart with the real effects provided; run it with an McsInput. */
export function createMcsMachine(deps: McsDeps, state?: (s: McsState) => void): typeof mcsMachine {
  const { config, child, log } = deps;
  const random = deps.random ?? Math.random;
  const parentAccess =
    deps.parent ?? (() => loadParentAccess(child, config.systemNamespace, config.registration.parentUrl));
  const limiter = deps.childLimiter ?? childRequestLimiter(config.child.qps, config.child.burst);
  const exports = new ExportCache();
  const slices = new SliceCache();
  state?.({ exports, slices });
  const reconciler = new ExportReconciler({ child, childLimiter: limiter, exports, slices });
  let parent: KubeConfig | undefined;

  return mcsMachine.provide({
    actors: {
      // Each term starts here: the child's version, the dedicated credentials, and empty caches (full lists).
      readChildVersion: fromPromise(async () => {
        const res = await rawRequest(child, { method: 'GET', path: '/version', timeoutMs: 10_000 });
        if (res.status !== 200) throw new Error(`reading the child's version: ${statusText(res)}`);
        const version = (JSON.parse(res.body) as { gitVersion?: string }).gitVersion ?? '';
        parent = (await parentAccess()).kubeConfig;
        exports.reset();
        slices.reset();
        log.info({ childVersion: version }, 'multi-cluster services: child version read');
        return version;
      }),
      watchExports: fromEventObservable<McsEvent, WatchInput>(() =>
        cacheEvents$({
          kc: child,
          path: serviceExportsPath,
          what: 'ServiceExport',
          cache: exports,
          limiter,
          relevant: () => true,
          synced: 'exports.synced',
          ended: 'exports.watchEnded',
        }),
      ),
      watchSlices: fromEventObservable<McsEvent, WatchInput>(() =>
        cacheEvents$({
          kc: child,
          path: endpointSlicesPath,
          what: 'EndpointSlice',
          cache: slices,
          limiter,
          relevant: (key) => exports.get(key) !== undefined,
          synced: 'slices.synced',
          ended: 'slices.watchEnded',
        }),
      ),
      reconcile: fromCallback<McsEvent, ReconcileInput>(({ input, sendBack }) => {
        // Aborted when the worker is stopped (the term ended): nothing more is written.
        const stop = new AbortController();
        const kc = parent;
        if (kc === undefined) {
          sendBack({ type: 'work.failed', key: input.key, message: 'no parent credentials loaded' });
          return undefined;
        }
        reconciler.reconcile(input.key, kc, input.dedicatedNamespace, stop.signal).then(
          (o) => {
            if (o.created + o.updated + o.deleted > 0 || o.steps.some((s) => s !== 'sync')) {
              log.info({ serviceExport: input.key, ...o }, 'ServiceExport synced');
            }
            sendBack({ type: 'work.done', key: input.key });
          },
          (err: unknown) => {
            if (stop.signal.aborted) return;
            const message = failureMessage(err);
            log.warn({ serviceExport: input.key, err: message }, 'ServiceExport sync failed; retrying with backoff');
            sendBack({ type: 'work.failed', key: input.key, message, kind: failureKind(err) });
          },
        );
        return () => {
          stop.abort(new Error(`the sync of ${input.key} was stopped (leadership ended)`));
        };
      }),
    },
    delays: mcsDelays(random),
  });
}
