import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { HeartbeatEvent } from '../../../machines/heartbeat/machine.ts';
import { NodeStore, nodeEvents$, nodeTotals, summarizeNode } from '../../../src/heartbeat/nodes.ts';
import { eventually } from '../../env/eventually.ts';

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

describe('a relist of the nodes', () => {
  it('keeps the last full figures while it runs and when it fails', async () => {
    // An apiserver whose node list hangs until the test answers it.
    const listResponses: ServerResponse[] = [];
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/nodes?') === true) listResponses.push(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    try {
      const store = new NodeStore(prefixes);
      store.replace(
        summaries(node('a', 'True', { cpu: '4', memory: '8Gi' }), node('b', 'True', { cpu: '2', memory: '4Gi' })).map(
          (n, i) => [`n${String(i)}`, n],
        ),
        undefined, // as after a 410 Gone: the next run lists again
      );
      const before = nodeTotals(store.values());
      const events: HeartbeatEvent[] = [];
      const subscription = nodeEvents$(kc, store).subscribe((e) => events.push(e));
      // The relist is under way (polled: a fixed sleep was too short on a loaded machine).
      await eventually('the relist request', () => Promise.resolve(listResponses.length === 1 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      expect(events).toEqual([]);
      expect(store.synced).toBe(true);
      expect(nodeTotals(store.values())).toEqual(before);
      listResponses[0]?.writeHead(503).end('{"message":"etcd is busy"}');
      await eventually('the end of the list-watch', () => Promise.resolve(events.length > 0 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      expect(events.map((e) => e.type)).toEqual(['nodes.watchEnded']);
      expect(store.synced).toBe(true);
      expect(nodeTotals(store.values())).toEqual(before);
      subscription.unsubscribe();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
