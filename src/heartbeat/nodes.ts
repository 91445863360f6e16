// The child's nodes, reduced to what the status needs: readiness, the summed resources, and the labels
// that take part in label aggregation. A full Node object is never kept: a 5,000-node cluster costs a
// few MB here, not the hundreds an informer cache of whole objects would.

import type { KubeConfig, V1Node } from '@kubernetes/client-node';
import {
  controlPlaneRoleLabels,
  type NodeLabels,
  type NodeStatistics,
  type NodeTotals,
} from '../../machines/heartbeat/decisions.ts';
import { concatMap, defer, type Observable } from 'rxjs';
import type { HeartbeatEvent } from '../../machines/heartbeat/machine.ts';
import { formatQuantity, parseQuantity, sumQuantities, type Quantity } from '../kube/quantity.ts';
import { listPaged, listWatch$, watchPhase } from '../kube/list-watch.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';

export const gpuResource = 'nvidia.com/gpu';
const summedResources = ['cpu', 'memory', gpuResource] as const;
type SummedResource = (typeof summedResources)[number];
type Resources = Partial<Record<SummedResource, Quantity>>;

export interface NodeSummary extends NodeLabels {
  /** The Ready condition's status; undefined when the node has none (a "lost" node). */
  readonly ready: string | undefined;
  readonly capacity: Resources;
  readonly allocatable: Resources;
}

/** The minimal view of a Node this module reads (a watch event's object or a listed item). */
type NodeLike = Pick<V1Node, 'metadata' | 'status'>;

function resources(list: Readonly<Record<string, string>> | undefined): Resources {
  const out: Resources = {};
  for (const name of summedResources) {
    const v = list?.[name];
    if (v === undefined) continue;
    try {
      out[name] = parseQuantity(v);
    } catch {
      // An unparsable quantity counts as absent rather than poisoning the sum.
    }
  }
  return out;
}

export function summarizeNode(node: NodeLike, labelPrefixes: readonly string[]): NodeSummary {
  const labels = node.metadata?.labels ?? {};
  return {
    ready: node.status?.conditions?.find((c) => c.type === 'Ready')?.status,
    capacity: resources(node.status?.capacity),
    allocatable: resources(node.status?.allocatable),
    controlPlane: controlPlaneRoleLabels.some((l) => l in labels),
    labels: Object.fromEntries(Object.entries(labels).filter(([k]) => labelPrefixes.some((p) => k.startsWith(p)))),
  };
}

/** Node statistics and summed cpu/memory (and GPUs when any node has some), in canonical form. */
export function nodeTotals(nodes: Iterable<NodeSummary>): NodeTotals {
  const stats = { readyNodes: 0, notReadyNodes: 0, unknownNodes: 0, lostNodes: 0 };
  const all: NodeSummary[] = [];
  for (const n of nodes) {
    all.push(n);
    if (n.ready === 'True') stats.readyNodes++;
    else if (n.ready === 'False') stats.notReadyNodes++;
    else if (n.ready === undefined) stats.lostNodes++;
    else stats.unknownNodes++;
  }
  const sum = (side: 'capacity' | 'allocatable', r: SummedResource): Quantity =>
    sumQuantities(all.flatMap((n) => (n[side][r] === undefined ? [] : [n[side][r]])));
  const withGpu = sum('capacity', gpuResource).nano !== 0n;
  const totals = (side: 'capacity' | 'allocatable'): Record<string, string> => ({
    cpu: formatQuantity(sum(side, 'cpu')),
    memory: formatQuantity(sum(side, 'memory')),
    ...(withGpu ? { [gpuResource]: formatQuantity(sum(side, gpuResource)) } : {}),
  });
  const statistics: NodeStatistics = stats;
  return { statistics, capacity: totals('capacity'), allocatable: totals('allocatable') };
}

/** Nodes by name; `synced` once a full list has been taken. */
export class NodeStore {
  private nodes = new Map<string, NodeSummary>();
  private syncedFlag = false;
  /** Where the next watch resumes; undefined forces a full list. */
  resourceVersion: string | undefined;

  readonly labelPrefixes: readonly string[];

  constructor(labelPrefixes: readonly string[]) {
    this.labelPrefixes = labelPrefixes;
  }

  get synced(): boolean {
    return this.syncedFlag;
  }
  get size(): number {
    return this.nodes.size;
  }
  values(): IterableIterator<NodeSummary> {
    return this.nodes.values();
  }

  /** Replaces everything with a full list; true if readiness or membership changed. */
  replace(items: Iterable<[string, NodeSummary]>, resourceVersion: string | undefined): boolean {
    const next = new Map(items);
    const changed =
      !this.syncedFlag ||
      next.size !== this.nodes.size ||
      [...next].some(([name, n]) => this.nodes.get(name)?.ready !== n.ready);
    this.nodes = next;
    this.resourceVersion = resourceVersion;
    this.syncedFlag = true;
    return changed;
  }

  /** Applies one watch event; true if readiness or membership changed. */
  apply(phase: string, node: NodeLike): boolean {
    const name = node.metadata?.name;
    if (name === undefined) return false;
    this.resourceVersion = node.metadata?.resourceVersion ?? this.resourceVersion;
    if (phase === 'DELETED') return this.nodes.delete(name);
    if (phase !== 'ADDED' && phase !== 'MODIFIED') return false;
    const before = this.nodes.get(name);
    const after = summarizeNode(node, this.labelPrefixes);
    this.nodes.set(name, after);
    return before?.ready !== after.ready;
  }
}

/** A full, paged list of the nodes into the store; true if readiness or membership changed. */
export async function listNodes(kc: KubeConfig, store: NodeStore, limiter?: RequestLimiter): Promise<boolean> {
  const items: [string, NodeSummary][] = [];
  // Pages of 250, each reduced and dropped: a big cluster's list never sits in memory whole.
  const resourceVersion = await listPaged<NodeLike>(
    kc,
    '/api/v1/nodes',
    { what: 'nodes', limiter },
    (page) => {
      for (const node of page) {
        const name = node.metadata?.name;
        if (name !== undefined) items.push([name, summarizeNode(node, store.labelPrefixes)]);
      }
    },
    () => (items.length = 0),
  );
  return store.replace(items, resourceVersion);
}

/**
 * The watchNodes actor's events: a full list when the store has no resume point, then a watch from it
 * (`nodes.synced`, `nodes.changed` when readiness or membership changed, `nodes.watchEnded` last).
 */
export function nodeEvents$(
  kc: KubeConfig,
  store: NodeStore,
  onListed?: (nodes: number, ms: number) => void,
  limiter?: RequestLimiter,
): Observable<HeartbeatEvent> {
  return defer(() => {
    if (!store.synced) store.resourceVersion = undefined;
    let changed = false;
    const list = async (): Promise<void> => {
      const started = performance.now();
      changed = await listNodes(kc, store, limiter);
      onListed?.(store.size, performance.now() - started);
    };
    return listWatch$<NodeLike>({ kc, path: '/api/v1/nodes', what: 'node', resume: store, limiter, list }).pipe(
      concatMap((e): HeartbeatEvent[] => {
        switch (e.type) {
          case 'synced': {
            const events: HeartbeatEvent[] = [
              { type: 'nodes.synced' },
              ...(changed ? [{ type: 'nodes.changed' } as const] : []),
            ];
            changed = false;
            return events;
          }
          case 'bookmark':
            return [];
          case 'added':
          case 'modified':
          case 'deleted':
            return store.apply(watchPhase[e.type], e.object) ? [{ type: 'nodes.changed' }] : [];
          default:
            return [{ type: 'nodes.watchEnded', kind: e.type, message: e.message }];
        }
      }),
    );
  });
}
