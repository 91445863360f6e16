import { describe, expect, it } from 'vitest';
import { passesTaints, podUsage, tolerates, type PodLike } from '../../../src/predictor/algorithm.ts';
import { PredictorCaches } from '../../../src/predictor/actors.ts';
import type { NodeObject } from '../../../src/predictor/caches.ts';
import { decodeRequirements } from '../../../src/predictor/request.ts';
import { isScalarResource, resourceKind } from '../../../src/predictor/resources.ts';

type Pod = PodLike & { name: string; deleting?: boolean };

const node = (
  name: string,
  allocatable: Record<string, string>,
  opts: { labels?: Record<string, string>; taints?: { key: string; value?: string; effect: string }[] } = {},
): NodeObject => ({
  metadata: { name, labels: opts.labels ?? {} },
  spec: { taints: opts.taints ?? [] },
  status: { allocatable },
});

const pod = (
  name: string,
  nodeName: string | undefined,
  phase: string,
  requests: Record<string, string>,
  more: {
    init?: Record<string, string>[];
    sidecars?: Record<string, string>[];
    overhead?: Record<string, string>;
  } = {},
): Pod => ({
  name,
  spec: {
    nodeName,
    containers: [{ resources: { requests } }],
    initContainers: [
      ...(more.sidecars ?? []).map((r) => ({ resources: { requests: r }, restartPolicy: 'Always' })),
      ...(more.init ?? []).map((r) => ({ resources: { requests: r } })),
    ],
    overhead: more.overhead,
  },
  status: { phase },
});

function caches(nodes: NodeObject[], pods: Pod[]): PredictorCaches {
  const c = new PredictorCaches();
  for (const n of nodes) c.nodes.set(n);
  for (const p of pods) c.pods.set(`default/${p.name}`, p);
  return c;
}

/** The answer to one request body: the `default` replicas, or the error. */
function answer(c: PredictorCaches, body: string): number | string {
  const d = decodeRequirements(body);
  if (!d.ok) return `400 ${d.reason}`;
  const r = c.predict(d.requirements);
  return r.ok ? r.replicas : `500 ${r.message}`;
}

describe('worked example A: basic (spec predictor §5)', () => {
  const c = caches(
    [
      node('node-a', { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' }, { labels: { zone: 'a' } }),
      node('node-b', { cpu: '2', memory: '4Gi', pods: '3', 'ephemeral-storage': '100Gi' }, { labels: { zone: 'b' } }),
    ],
    [
      pod('a1', 'node-a', 'Running', { cpu: '1500m', memory: '2Gi' }),
      pod('a2', 'node-a', 'Succeeded', { cpu: '2', memory: '4Gi' }),
      pod('a3', 'node-a', 'Pending', { cpu: '500m', memory: '512Mi' }),
      pod('b1', 'node-b', 'Running', { cpu: '250m', memory: '1Gi' }),
      pod('b2', 'node-b', 'Failed', { cpu: '1', memory: '1Gi' }),
      pod('u1', undefined, 'Pending', { cpu: '1', memory: '1Gi' }),
    ],
  );
  it.each([
    ['{"resources":{"requests":{"cpu":"500m","memory":"1Gi"}}}', 6],
    ['{"nodeSelector":{"zone":"b"},"resources":{"requests":{"cpu":"500m","memory":"1Gi"}}}', 2],
    ['{}', 110],
    ['null', 110],
    ['{"resources":{"limits":{"cpu":"3"}}}', 110],
    ['{"resources":{"requests":{"cpu":0.5,"memory":1073741824}}}', 6],
    ['{"resources":{"limits":{"cpu":"100"},"requests":{"memory":"3Gi"}}}', 2],
    ['{"nodeSelector":{"zone":"c"}}', '500 no feasible nodes found'],
    // Field names match case-insensitively; map keys do not.
    ['{"NODESELECTOR":{"zone":"b"},"Resources":{"REQUESTS":{"cpu":"500m","memory":"1Gi"}}}', 2],
    ['{"nodeSelector":{"Zone":"b"}}', '500 no feasible nodes found'],
    // Unknown fields are ignored.
    ['{"replicas":3,"resources":{"requests":{"cpu":"500m","memory":"1Gi"}}}', 6],
  ])('%s → %j', (body, want) => {
    expect(answer(c, body)).toEqual(want);
  });
});

describe('worked example B: taints (spec predictor §5)', () => {
  const mem = { memory: '16Gi', pods: '110' };
  const c = caches(
    [
      node('n1', { cpu: '8', ...mem }, { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
      node('n2', { cpu: '2', ...mem }, { taints: [{ key: 'spot', value: 'true', effect: 'PreferNoSchedule' }] }),
      node('n3', { cpu: '4', ...mem }, { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }),
    ],
    [],
  );
  const body = (extra: string): string => `{"resources":{"requests":{"cpu":"1"}}${extra}}`;
  it.each([
    ['', 2],
    [',"tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}]', 10],
    [',"tolerations":[{"operator":"Exists"}]', 14],
    [',"tolerations":[{"key":"dedicated","operator":"Equal","value":"cpu"}]', 2],
    [',"tolerations":[{"key":"dedicated","operator":"Exists","effect":"NoExecute"}]', 2],
    // Affinity is accepted and ignored.
    [
      ',"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"nope","operator":"In","values":["x"]}]}]}}}',
      2,
    ],
    // An unschedulable node is excluded only through its taint: tolerating it admits n3.
    [',"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists"}]', 6],
    // An empty key with Equal matches any key with that value.
    [',"tolerations":[{"operator":"Equal","value":"gpu"}]', 10],
    // An unknown operator tolerates nothing.
    [',"tolerations":[{"key":"dedicated","operator":"In","value":"gpu"}]', 2],
  ])('tolerations%s → %j', (extra, want) => {
    expect(answer(c, body(extra))).toEqual(want);
  });

  it('NoExecute taints filter as NoSchedule ones do', () => {
    const c2 = caches([node('x', { cpu: '2', pods: '10' }, { taints: [{ key: 'k', effect: 'NoExecute' }] })], []);
    expect(answer(c2, '{}')).toBe('500 no feasible nodes found');
    expect(answer(c2, '{"tolerations":[{"key":"k","operator":"Exists","effect":"NoExecute"}]}')).toBe(10);
  });
});

describe('worked example C: extended resources (spec predictor §5)', () => {
  const c = caches(
    [
      node('g1', { cpu: '16', memory: '64Gi', pods: '110', 'nvidia.com/gpu': '4' }),
      node('g2', { cpu: '16', memory: '64Gi', pods: '110' }),
    ],
    [pod('gp', 'g1', 'Running', { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' })],
  );
  it.each([
    ['{"resources":{"requests":{"cpu":"2","memory":"8Gi","nvidia.com/gpu":"1"}}}', 3],
    ['{"resources":{"requests":{"cpu":"2","memory":"8Gi"}}}', 15],
    ['{"resources":{"requests":{"cpu":"2","memory":"8Gi","pods":"50","foo":"3"}}}', 15],
    // A zero request counts as no request.
    ['{"resources":{"requests":{"cpu":"2","memory":"8Gi","nvidia.com/gpu":"0"}}}', 15],
    ['{"resources":{"requests":{"nvidia.com/gpu":"2"}}}', 1],
  ])('%s → %j', (body, want) => {
    expect(answer(c, body)).toEqual(want);
  });
});

describe('worked example D: rounding up (spec predictor §5)', () => {
  const c = caches([node('r1', { cpu: '1', memory: '1000', pods: '110' })], []);
  it.each([
    ['{"resources":{"requests":{"cpu":"0.0001","memory":"100m"}}}', 110],
    ['{"resources":{"requests":{"cpu":"333m","memory":"1.5"}}}', 3],
  ])('%s → %j', (body, want) => {
    expect(answer(c, body)).toEqual(want);
  });
});

describe('worked example E: overhead, Unknown, terminating (spec predictor §5)', () => {
  const zp: Pod = {
    ...pod(
      'zp',
      'z1',
      'Unknown',
      { cpu: '1', 'ephemeral-storage': '1Gi' },
      { overhead: { cpu: '250m', memory: '120Mi' } },
    ),
    deleting: true,
  };
  const c = caches([node('z1', { cpu: '4', memory: '8Gi', pods: '10', 'ephemeral-storage': '10Gi' })], [zp]);
  it.each([
    ['{"resources":{"requests":{"cpu":"1"}}}', 2],
    ['{"resources":{"requests":{"cpu":"500m","ephemeral-storage":"2Gi"}}}', 4],
  ])('%s → %j', (body, want) => {
    expect(answer(c, body)).toEqual(want);
  });
});

describe('worked example F: what Go answers with 500, computed instead (deliberate differences)', () => {
  it('an over-committed node takes 0 more; the others still count (Go: 500 for the whole request)', () => {
    const c = caches(
      [node('n1', { cpu: '1', memory: '4Gi', pods: '110' }), node('n2', { cpu: '4', memory: '4Gi', pods: '110' })],
      [pod('p1', 'n1', 'Running', { cpu: '1500m' })],
    );
    expect(answer(c, '{"resources":{"requests":{"cpu":"1"}}}')).toBe(4);
    // Without a cpu request, n1 still has free pod slots.
    expect(answer(c, '{}')).toBe(219);
  });
  it('no nodes: 500 no feasible nodes found, as Go', () => {
    expect(answer(caches([], []), '{}')).toBe('500 no feasible nodes found');
  });
  it('a pod using a scalar its node lacks leaves that node 0 of it (Go: 500 "does not exist")', () => {
    const c = caches(
      [node('x1', { cpu: '16', memory: '64Gi', pods: '110' })],
      [pod('p', 'x1', 'Running', { 'nvidia.com/gpu': '1' })],
    );
    expect(answer(c, '{"resources":{"requests":{"cpu":"1"}}}')).toBe(16);
    expect(answer(c, '{"resources":{"requests":{"nvidia.com/gpu":"1"}}}')).toBe(0);
  });
  it('a node without a pods allocatable takes 0', () => {
    expect(answer(caches([node('y1', { cpu: '4', memory: '8Gi' })], []), '{}')).toBe(0);
  });
  it('a zero-valued extended resource on a node without scalars is 0, not a crash (Go panics)', () => {
    const c = caches(
      [node('n', { cpu: '4', memory: '8Gi', pods: '10' })],
      [pod('p', 'n', 'Running', { cpu: '1', 'example.com/dongle': '0' })],
    );
    expect(answer(c, '{"resources":{"requests":{"cpu":"1"}}}')).toBe(3);
    expect(answer(c, '{"resources":{"requests":{"example.com/dongle":"1"}}}')).toBe(0);
  });
});

describe('worked example G: init containers, per pod (deliberate difference: Go depends on order)', () => {
  const nodes = [node('node-a', { cpu: '4', memory: '8Gi', pods: '110' })];
  const a1 = pod('a1', 'node-a', 'Running', { cpu: '1500m', memory: '2Gi' });
  const a3 = pod(
    'a3',
    'node-a',
    'Pending',
    { cpu: '500m', memory: '512Mi' },
    { init: [{ cpu: '1', memory: '256Mi' }] },
  );
  it.each([
    ['a1 first', [a1, a3]],
    ['a3 first', [a3, a1]],
  ])('%s → 3 (Go: 3 or 4)', (_, pods) => {
    expect(answer(caches(nodes, pods), '{"resources":{"requests":{"cpu":"500m","memory":"1Gi"}}}')).toBe(3);
  });
});

describe('a pod’s requests (the kube-scheduler’s rule)', () => {
  it.each([
    ['app containers summed', pod('p', 'n', 'Running', { cpu: '1', memory: '1Gi' }), 1000, 1024 ** 3],
    ['init max', pod('p', 'n', 'Running', { cpu: '1' }, { init: [{ cpu: '3' }, { cpu: '2' }] }), 3000, 0],
    ['init smaller', pod('p', 'n', 'Running', { cpu: '1' }, { init: [{ cpu: '500m' }] }), 1000, 0],
    // A sidecar runs beside the app containers, and beside the init containers after it.
    [
      'sidecar',
      pod('p', 'n', 'Running', { cpu: '1' }, { sidecars: [{ cpu: '500m' }], init: [{ cpu: '1200m' }] }),
      1700,
      0,
    ],
    ['overhead', pod('p', 'n', 'Running', { cpu: '1' }, { overhead: { cpu: '100m' } }), 1100, 0],
    ['zero requests', pod('p', 'n', 'Running', {}), 0, 0],
  ])('%s', (_, p, cpu, memory) => {
    const u = podUsage(p);
    expect(u?.usage.cpu).toBe(cpu);
    expect(u?.usage.memory).toBe(memory);
    expect(u?.usage.pods).toBe(1);
  });
  it.each([
    ['Succeeded', 'Succeeded', 'n'],
    ['Failed', 'Failed', 'n'],
    ['unbound', 'Pending', undefined],
  ])('%s pods take nothing', (_, phase, nodeName) => {
    expect(podUsage(pod('p', nodeName, phase, { cpu: '1' }))).toBeUndefined();
  });
  it('pods with zero requests still take a pod slot', () => {
    const c = caches([node('n', { cpu: '1', pods: '3' })], [pod('a', 'n', 'Running', {}), pod('b', 'n', '', {})]);
    expect(answer(c, '{}')).toBe(1);
    expect(answer(c, '{"resources":{"requests":{"cpu":"100m"}}}')).toBe(1);
  });
});

describe('the cache follows pods as they change', () => {
  it('a pod that finishes, moves or goes away gives its requests back', () => {
    const c = caches([node('n', { cpu: '4', pods: '10' })], []);
    const req = '{"resources":{"requests":{"cpu":"1"}}}';
    c.pods.set('ns/p', pod('p', 'n', 'Running', { cpu: '2' }));
    expect(answer(c, req)).toBe(2);
    c.pods.set('ns/p', pod('p', 'n', 'Succeeded', { cpu: '2' }));
    expect(answer(c, req)).toBe(4);
    c.pods.set('ns/p', pod('p', 'n', 'Running', { cpu: '3', 'nvidia.com/gpu': '1' }));
    expect(answer(c, req)).toBe(1);
    c.pods.delete('ns/p');
    expect(answer(c, req)).toBe(4);
    expect(c.pods.used('n')).toBeUndefined();
    expect(c.pods.size).toBe(0);
  });
  it('holds many pods (slots are reused and the columns grow)', () => {
    const c = caches([node('n', { cpu: '100000', pods: '5000' })], []);
    for (let i = 0; i < 3000; i++) c.pods.set(`ns/p${String(i)}`, pod(`p${String(i)}`, 'n', 'Running', { cpu: '10' }));
    for (let i = 0; i < 3000; i += 2) c.pods.delete(`ns/p${String(i)}`);
    for (let i = 0; i < 1000; i++) c.pods.set(`ns/q${String(i)}`, pod(`q${String(i)}`, 'n', 'Running', { cpu: '20' }));
    expect(c.pods.size).toBe(2500);
    expect(c.pods.used('n')?.cpu).toBe(1500 * 10_000 + 1000 * 20_000);
    expect(answer(c, '{}')).toBe(2500);
  });
});

describe('taints and tolerations (k8s.io/api ToleratesTaint)', () => {
  const taint = { key: 'k', value: 'v', effect: 'NoSchedule' };
  it.each([
    [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }, true],
    [{ key: 'k', value: 'v' }, true],
    [{ key: 'k', operator: 'Equal', value: 'w' }, false],
    [{ key: 'k', operator: 'Exists' }, true],
    [{ key: 'k', operator: 'Exists', effect: 'NoExecute' }, false],
    [{ operator: 'Exists' }, true],
    [{ key: 'other', operator: 'Exists' }, false],
    [{ key: 'k', operator: 'exists' }, false],
  ])('%j tolerates k=v:NoSchedule: %s', (t, want) => {
    expect(tolerates(t, taint)).toBe(want);
  });
  it('PreferNoSchedule taints never filter', () => {
    expect(passesTaints([{ key: 'k', value: '', effect: 'PreferNoSchedule' }], [])).toBe(true);
  });
});

describe('resource names (Kubernetes IsScalarResourceName)', () => {
  it.each([
    ['cpu', 'cpu'],
    ['pods', 'pods'],
    ['nvidia.com/gpu', 'scalar'],
    ['hugepages-2Mi', 'scalar'],
    ['attachable-volumes-aws-ebs', 'scalar'],
    ['kubernetes.io/something', 'scalar'],
    ['foo', undefined],
    ['requests.example.com/x', undefined],
    ['example.com/bad name', undefined],
  ])('%s → %s', (name, kind) => {
    expect(resourceKind(name)).toBe(kind);
  });
  it('an extended resource needs a valid qualified name', () => {
    expect(isScalarResource(`example.com/${'x'.repeat(63)}`)).toBe(true);
    expect(isScalarResource(`example.com/${'x'.repeat(64)}`)).toBe(false);
  });
});
