import { describe, expect, it } from 'vitest';
import { NodeStore, nodeTotals, summarizeNode } from '../../../src/heartbeat/nodes.ts';

const node = (name: string, ready: string | undefined, capacity: Record<string, string>, labels = {}) => ({
  metadata: { name, labels, resourceVersion: '1' },
  status: {
    capacity,
    allocatable: capacity,
    ...(ready === undefined ? {} : { conditions: [{ type: 'Ready', status: ready }] }),
  },
});
const prefixes = ['node.clusternet.io/'];
const summaries = (...nodes: ReturnType<typeof node>[]) => nodes.map((n) => summarizeNode(n, prefixes));

describe('nodeTotals', () => {
  it('counts readiness and sums cpu and memory', () => {
    const t = nodeTotals(
      summaries(
        node('a', 'True', { cpu: '4', memory: '8Gi' }),
        node('b', 'False', { cpu: '500m', memory: '1Gi' }),
        node('c', 'Unknown', { cpu: '1', memory: '1Gi' }),
        node('d', undefined, { cpu: '1' }),
      ),
    );
    expect(t).toEqual({
      statistics: { readyNodes: 1, notReadyNodes: 1, unknownNodes: 1, lostNodes: 1 },
      capacity: { cpu: '6500m', memory: '10Gi' },
      allocatable: { cpu: '6500m', memory: '10Gi' },
    });
  });
  it('writes "0" for cpu and memory without nodes', () => {
    expect(nodeTotals([]).capacity).toEqual({ cpu: '0', memory: '0' });
  });
  it('adds GPUs only when some node has them, and skips unparsable quantities', () => {
    const t = nodeTotals(
      summaries(
        node('a', 'True', { cpu: '4', memory: 'junk', 'nvidia.com/gpu': '2' }),
        node('b', 'True', { cpu: '4' }),
      ),
    );
    expect(t.capacity).toEqual({ cpu: '8', memory: '0', 'nvidia.com/gpu': '2' });
  });
  it('keeps only the labels under the aggregation prefixes, and notes control-plane nodes', () => {
    const s = summarizeNode(
      node(
        'a',
        'True',
        {},
        { 'node.clusternet.io/zone': 'a', 'kubernetes.io/os': 'linux', 'node-role.kubernetes.io/control-plane': '' },
      ),
      prefixes,
    );
    expect(s.labels).toEqual({ 'node.clusternet.io/zone': 'a' });
    expect(s.controlPlane).toBe(true);
  });
});

describe('NodeStore', () => {
  it('reports membership and readiness changes, not other updates', () => {
    const store = new NodeStore(prefixes);
    expect(store.replace([], '10')).toBe(true); // the first sync is a change
    expect(store.apply('ADDED', node('a', 'True', { cpu: '1' }))).toBe(true);
    expect(store.apply('MODIFIED', node('a', 'True', { cpu: '2' }))).toBe(false);
    expect(store.apply('MODIFIED', node('a', 'False', { cpu: '2' }))).toBe(true);
    expect(store.apply('DELETED', node('a', 'False', {}))).toBe(true);
    expect(store.apply('DELETED', node('a', 'False', {}))).toBe(false);
    expect(store.resourceVersion).toBe('1');
    expect(store.size).toBe(0);
  });
  it('a relist that changes nothing is not a change', () => {
    const store = new NodeStore(prefixes);
    const items = summaries(node('a', 'True', {})).map((s) => ['a', s] as [string, typeof s]);
    store.replace(items, '1');
    expect(store.replace(items, '2')).toBe(false);
    expect(store.synced).toBe(true);
  });
});
