import { describe, expect, it } from 'vitest';
import { podUsage, type PodLike } from '../../../src/predictor/algorithm.ts';
import { PodUsage } from '../../../src/predictor/caches.ts';
import { KeyIndex } from '../../../src/predictor/key-index.ts';
import { emptyAmounts, mergeAmounts, type Amounts } from '../../../src/predictor/resources.ts';
import { seededRandom } from '../../env/seeded-random.ts';

const odd = ['', 'ünïcødé/ñame', 'ns/名前', 'emoji/🙂', `long/${'x'.repeat(700)}`];

describe('KeyIndex', () => {
  it('answers as a Map through sets, deletes, growth, rehashes and compactions', () => {
    const rand = seededRandom(16);
    const index = new KeyIndex();
    const reference = new Map<string, number>();
    const free: number[] = [];
    let next = 0;
    const keys = [...odd, ...Array.from({ length: 30_000 }, (_, i) => `ns-${String(i % 7)}/pod-${String(i)}`)];
    const wrong: string[] = [];
    for (let op = 0; op < 200_000; op++) {
      const key = keys[Math.floor(rand() * keys.length)] ?? '';
      const had = reference.get(key);
      if (index.get(key) !== had) wrong.push(`get ${key} at ${String(op)}`);
      if (had === undefined && rand() < 0.6) {
        const slot = free.pop() ?? next++;
        index.set(key, slot);
        reference.set(key, slot);
      } else {
        if (index.delete(key) !== had) wrong.push(`delete ${key} at ${String(op)}`);
        if (had !== undefined) {
          reference.delete(key);
          free.push(had);
        }
      }
      if (index.size !== reference.size) wrong.push(`size at ${String(op)}`);
    }
    for (const key of keys) if (index.get(key) !== reference.get(key)) wrong.push(`get ${key} at the end`);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(reference.size).toBeGreaterThan(10_000);
  });

  it('tells apart keys that differ only in their last byte or their length', () => {
    const index = new KeyIndex();
    index.set('a/b', 0);
    index.set('a/bb', 1);
    index.set('a/c', 2);
    expect([index.get('a/b'), index.get('a/bb'), index.get('a/c'), index.get('a/')]).toEqual([0, 1, 2, undefined]);
    index.clear();
    expect([index.size, index.get('a/b')]).toEqual([0, undefined]);
  });

  it('holds 150,000 pod keys in under 80 bytes each (a Map: about 125 of V8 heap)', () => {
    const index = new KeyIndex();
    for (let i = 0; i < 150_000; i++) index.set(`mem-pods/mem-pod-${String(i).padStart(7, '0')}`, i);
    expect(index.size).toBe(150_000);
    expect(index.bytes / 150_000).toBeLessThan(80);
    expect(index.get('mem-pods/mem-pod-0123456')).toBe(123_456);
  });
});

type Pod = PodLike & { key: string };

/** A pod as a watch brings it: bound or not, finished or not, with a scalar resource now and then. */
function randomPod(rand: () => number, key: string): Pod {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const requests: Record<string, string> = { cpu: pick(['100m', '250m', '1', '1500m']), memory: pick(['64Mi', '1Gi']) };
  if (rand() < 0.1) requests['nvidia.com/gpu'] = pick(['1', '2']);
  if (rand() < 0.1) requests['ephemeral-storage'] = '1Gi';
  return {
    key,
    spec: {
      nodeName: pick(['', 'node-a', 'node-b', 'node-c', 'node-d']),
      containers: [{ resources: { requests } }],
      ...(rand() < 0.2 ? { initContainers: [{ resources: { requests: { cpu: '2' } } }] } : {}),
    },
    status: { phase: pick(['Pending', 'Running', 'Running', 'Succeeded', 'Failed']) },
  };
}

/** The per-node sums recomputed from scratch: what PodUsage keeps current event by event. */
function sumsOf(pods: Iterable<Pod>): Map<string, Amounts> {
  const sums = new Map<string, Amounts>();
  for (const p of pods) {
    const u = podUsage(p);
    if (u === undefined) continue;
    const sum = sums.get(u.node) ?? emptyAmounts();
    mergeAmounts(sum, u.usage, (a, b) => a + b);
    sums.set(u.node, sum);
  }
  return sums;
}

const plain = (a: Amounts | undefined) =>
  a === undefined
    ? undefined
    : { ...a, scalars: Object.fromEntries([...(a.scalars ?? new Map<string, number>())].filter(([, n]) => n !== 0)) };

describe('PodUsage', () => {
  it('keeps the same per-node totals as a recount through adds, modifies and deletes', () => {
    const rand = seededRandom(7);
    const usage = new PodUsage();
    const live = new Map<string, Pod>();
    const keys = Array.from({ length: 3_000 }, (_, i) => `ns-${String(i % 5)}/pod-${String(i)}`);
    for (let op = 0; op < 40_000; op++) {
      const key = keys[Math.floor(rand() * keys.length)] ?? '';
      if (rand() < 0.3) {
        usage.delete(key);
        live.delete(key);
      } else {
        const p = randomPod(rand, key);
        usage.set(key, p);
        live.set(key, p);
      }
      if (op % 5_000 === 0 || op === 39_999) {
        const expected = sumsOf(live.values());
        for (const n of ['node-a', 'node-b', 'node-c', 'node-d'])
          expect(plain(usage.used(n)), `${n} after ${String(op)} events`).toEqual(plain(expected.get(n)));
        expect(usage.size).toBe([...live.values()].filter((p) => podUsage(p) !== undefined).length);
      }
    }
  });
});
