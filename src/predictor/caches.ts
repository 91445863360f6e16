// The predictor's caches of the child cluster, reduced to what the algorithm reads:
//   nodes  labels, the NoSchedule/NoExecute taints and the allocatable amounts;
//   pods   per pod only its node and what it takes from it (spec predictor §3 step 3b), in packed
//          columns, and per node the sum of those, kept current on every event, so a prediction never
//          walks the pods. Finished and unbound pods cost nothing.

import type { PodLike, PredictorNode, Taint } from './algorithm.ts';
import { podUsage } from './algorithm.ts';
import { KeyIndex } from './key-index.ts';
import { widened } from './typed-arrays.ts';
import { emptyAmounts, mergeAmounts, storedAmounts, type Amounts } from './resources.ts';

/** The parts of a Node the predictor reads. */
export interface NodeObject {
  readonly metadata?: { readonly name?: string; readonly labels?: Readonly<Record<string, string>> } | undefined;
  readonly spec?: { readonly taints?: readonly { key: string; value?: string; effect: string }[] } | undefined;
  readonly status?: { readonly allocatable?: Readonly<Record<string, string>> } | undefined;
}

export function predictorNode(node: NodeObject): PredictorNode {
  const taints: Taint[] = [];
  for (const t of node.spec?.taints ?? []) {
    if (t.effect === 'NoSchedule' || t.effect === 'NoExecute')
      taints.push({ key: t.key, value: t.value ?? '', effect: t.effect });
  }
  return {
    labels: { ...(node.metadata?.labels ?? {}) },
    taints,
    allocatable: storedAmounts(node.status?.allocatable, true),
  };
}

/** Nodes by name. */
export class PredictorNodes {
  private readonly nodes = new Map<string, PredictorNode & { readonly name: string }>();
  resourceVersion: string | undefined;

  get size(): number {
    return this.nodes.size;
  }
  values(): IterableIterator<PredictorNode & { readonly name: string }> {
    return this.nodes.values();
  }
  clear(): void {
    this.nodes.clear();
  }
  set(node: NodeObject): void {
    const name = node.metadata?.name;
    if (name !== undefined) this.nodes.set(name, { name, ...predictorNode(node) });
  }
  delete(name: string): void {
    this.nodes.delete(name);
  }
}

const INITIAL_SLOTS = 1024;

/**
 * What every counted pod takes, by `namespace/name`: packed columns (a slot per pod) for cpu,
 * memory, ephemeral storage and the node, scalars only for the few pods that request any, the keys
 * packed too (no string per pod); and the per-node sums the predictor reads.
 */
export class PodUsage {
  private readonly slotOf = new KeyIndex();
  private nodeOf = new Int32Array(INITIAL_SLOTS);
  private cpu = new Float64Array(INITIAL_SLOTS);
  private memory = new Float64Array(INITIAL_SLOTS);
  private storage = new Float64Array(INITIAL_SLOTS);
  private readonly scalars = new Map<number, Map<string, number>>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private readonly nodeIndex = new Map<string, number>();
  private readonly nodeNames: string[] = [];
  private readonly sums = new Map<string, Amounts>();
  resourceVersion: string | undefined;

  /** Counted pods. */
  get size(): number {
    return this.slotOf.size;
  }

  /** The requests of the counted pods on `node`, with `pods` their number; undefined if none. */
  used(node: string): Amounts | undefined {
    return this.sums.get(node);
  }

  clear(): void {
    this.slotOf.clear();
    this.scalars.clear();
    this.freeSlots.length = 0;
    this.nextSlot = 0;
    this.sums.clear();
  }

  /** The pod as it is now (ADDED/MODIFIED, or listed). */
  set(key: string, pod: PodLike): void {
    const u = podUsage(pod);
    const slot = this.slotOf.delete(key);
    if (slot !== undefined) this.remove(slot);
    if (u === undefined) return;
    const s = this.freeSlots.pop() ?? this.grow();
    this.slotOf.set(key, s);
    this.nodeOf[s] = this.indexOf(u.node);
    this.cpu[s] = u.usage.cpu;
    this.memory[s] = u.usage.memory;
    this.storage[s] = u.usage.ephemeralStorage;
    if (u.usage.scalars !== undefined) this.scalars.set(s, u.usage.scalars);
    let sum = this.sums.get(u.node);
    if (sum === undefined) this.sums.set(u.node, (sum = emptyAmounts()));
    mergeAmounts(sum, u.usage, (a, b) => a + b);
  }

  delete(key: string): void {
    const slot = this.slotOf.delete(key);
    if (slot !== undefined) this.remove(slot);
  }

  /** Takes the pod in `slot` (its key already gone) out of its node's sums and frees the slot. */
  private remove(slot: number): void {
    const node = this.nodeNames[this.nodeOf[slot] ?? -1] ?? '';
    const sum = this.sums.get(node);
    if (sum !== undefined) {
      const usage: Amounts = {
        cpu: this.cpu[slot] ?? 0,
        memory: this.memory[slot] ?? 0,
        ephemeralStorage: this.storage[slot] ?? 0,
        pods: 1,
        scalars: this.scalars.get(slot),
      };
      mergeAmounts(sum, usage, (a, b) => a - b);
      if (sum.pods <= 0) this.sums.delete(node);
    }
    this.scalars.delete(slot);
    this.freeSlots.push(slot);
  }

  private indexOf(node: string): number {
    let i = this.nodeIndex.get(node);
    if (i === undefined) {
      i = this.nodeNames.length;
      this.nodeNames.push(node);
      this.nodeIndex.set(node, i);
    }
    return i;
  }

  private grow(): number {
    const s = this.nextSlot++;
    if (s >= this.cpu.length) {
      const size = this.cpu.length * 2;
      this.nodeOf = widened(this.nodeOf, size, (n) => new Int32Array(n));
      this.cpu = widened(this.cpu, size, (n) => new Float64Array(n));
      this.memory = widened(this.memory, size, (n) => new Float64Array(n));
      this.storage = widened(this.storage, size, (n) => new Float64Array(n));
    }
    return s;
  }
}
