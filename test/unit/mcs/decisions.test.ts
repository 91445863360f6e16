import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  childSupport,
  derivedServiceName,
  desiredParentSlices,
  emptyQueue,
  enqueue,
  exportNeedsWork,
  exportSteps,
  finalizer,
  parentSlice,
  planSlices,
  sliceNeedsWork,
  takeUpTo,
  withFinalizer,
  type EndpointSlice,
  type ServiceExport,
} from '../../../machines/mcs/decisions.ts';
import { base32hex, sha256 } from '../../../machines/mcs/sha256.ts';

/**
 * base32hex written independently of the implementation: the bits as a string of 0s and 1s, cut into
 * groups of five (the last one padded with zeros), each group an index into 0-9A-V.
 */
function base32hexByHand(bytes: Uint8Array): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  const groups = bits.match(/.{1,5}/g) ?? [];
  return groups.map((g) => '0123456789ABCDEFGHIJKLMNOPQRSTUV'.charAt(parseInt(g.padEnd(5, '0'), 2))).join('');
}

describe('derivedServiceName (spec §7.7)', () => {
  // The hashes were computed outside this code, with:
  //   printf %s "$name" | openssl dgst -sha256 -binary | basenc --base32hex | tr -d '=\n' | tr A-Z a-z | cut -c1-10
  // (my-service → sgvukfmp95 is also the expected value of Clusternet's own TestDerivedServiceName.)
  it.each([
    ['test', 'my-service', 'derived-test-sgvukfmp95'],
    ['default', 'nginx', 'derived-default-bfguphsjbs'],
    ['baz', 'web', 'derived-baz-9df5ftnb5t'],
    ['ns', '', 'derived-ns-seoc8gkovg'],
    ['long', 'a-very-long-service-name-with-sixty-three-characters-in-it-ok-1', 'derived-long-i3ojrn0eoc'],
    ['x', 'ünïcode', 'derived-x-n2v8ipv4ro'],
  ])('%s/%s → %s', (namespace, name, expected) => {
    expect(derivedServiceName(namespace, name)).toBe(expected);
  });

  it('hashes the name only: the namespace is the readable middle part', () => {
    expect(derivedServiceName('a', 'svc').slice(-10)).toBe(derivedServiceName('other-ns', 'svc').slice(-10));
  });
});

describe('sha256 and base32hex', () => {
  it('sha256 of my-service is openssl dgst -sha256 of it', () => {
    // printf %s my-service | openssl dgst -sha256
    expect(Buffer.from(sha256(new TextEncoder().encode('my-service'))).toString('hex')).toBe(
      'e43fea3ed9496edff93508e602f251f75980f6c039dfd064b8e0afe77248def3',
    );
  });

  it('match node:crypto and the hand-made base32hex for random inputs of every length to 300 bytes', () => {
    for (let len = 0; len <= 300; len++) {
      const bytes = new Uint8Array(randomBytes(len));
      const digest = sha256(bytes);
      expect(Buffer.from(digest).toString('hex'), `length ${String(len)}`).toBe(
        createHash('sha256').update(bytes).digest('hex'),
      );
      expect(base32hex(bytes)).toBe(base32hexByHand(bytes));
    }
  });

  it('base32hex of the RFC 4648 test vectors, unpadded', () => {
    const enc = (s: string): string => base32hex(new TextEncoder().encode(s));
    expect(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(enc)).toEqual([
      '',
      'CO',
      'CPNG',
      'CPNMU',
      'CPNMUOG',
      'CPNMUOJ1',
      'CPNMUOJ1E8',
    ]);
  });
});

describe('childSupport: child ≥ v1.21.0-beta.1', () => {
  it.each([
    ['v1.35.4', 'supported'],
    ['v1.21.0', 'supported'],
    ['v1.21.0-beta.1', 'supported'],
    ['v1.21.0-beta.2', 'supported'],
    ['v1.21.0-rc.0', 'supported'],
    ['v1.21.0-beta.0', 'tooOld'],
    ['v1.21.0-alpha.3', 'tooOld'],
    ['v1.20.15', 'tooOld'],
    ['v1.28.3+k3s1', 'supported'],
    ['v1.27.8-gke.1067004', 'supported'],
    ['v1.20.9-gke.1001', 'tooOld'],
    ['1.22.0', 'supported'],
    ['', 'unparsable'],
    ['v1.22', 'unparsable'],
  ])('%s → %s', (v, expected) => {
    expect(childSupport(v)).toBe(expected);
  });
});

const se = (meta: Partial<ServiceExport['metadata']> = {}): ServiceExport => ({
  apiVersion: 'multicluster.x-k8s.io/v1alpha1',
  kind: 'ServiceExport',
  metadata: { name: 'web', namespace: 'shop', resourceVersion: '7', ...meta },
});

const slice = (name: string, service: string, ips: string[], ns = 'shop'): EndpointSlice => ({
  metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
});

describe('exportSteps', () => {
  it.each([
    ['without our finalizer', {}, ['addFinalizer', 'sync']],
    ['with our finalizer', { finalizers: [finalizer] }, ['sync']],
    ['with only a foreign finalizer', { finalizers: ['other.io/x'] }, ['addFinalizer', 'sync']],
    [
      'being deleted, with it',
      { finalizers: [finalizer], deletionTimestamp: 't' },
      ['deleteSlices', 'removeFinalizer'],
    ],
    ['being deleted, without it', { finalizers: ['other.io/x'], deletionTimestamp: 't' }, ['deleteSlices']],
  ])('%s', (_n, meta, steps) => {
    expect(exportSteps(se(meta).metadata)).toEqual(steps);
  });

  it('withFinalizer adds once, removes only ours, keeps the rest of the object', () => {
    const added = withFinalizer(se({ finalizers: ['other.io/x'] }), true);
    expect(added.metadata.finalizers).toEqual(['other.io/x', finalizer]);
    expect(withFinalizer(added, true).metadata.finalizers).toEqual(['other.io/x', finalizer]);
    expect(withFinalizer(added, false).metadata).toEqual({ ...se().metadata, finalizers: ['other.io/x'] });
  });
});

describe('parentSlice: names and labels (spec §7.7)', () => {
  it('is named <namespace>-<slice>, labelled with the names and the derived service, created by the agent', () => {
    expect(parentSlice(slice('web-abc12', 'web', ['10.0.0.1']), se(), 'clusternet-xyz')).toEqual({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'shop-web-abc12',
        namespace: 'clusternet-xyz',
        labels: {
          'services.clusternet.io/multi-cluster-service-name': 'web',
          'services.clusternet.io/multi-cluster-service-namespace': 'shop',
          'clusternet.io/created-by': 'clusternet-agent',
          'kubernetes.io/service-name': derivedServiceName('shop', 'web'),
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    });
  });

  it('carries the subscription namespace label of the ServiceExport when present', () => {
    const p = parentSlice(slice('a', 'web', []), se({ labels: { 'apps.clusternet.io/subs.namespace': 'team' } }), 'd');
    expect(p.metadata.labels?.['apps.clusternet.io/subs.namespace']).toBe('team');
  });

  it('copies no other label, annotation or owner of the child slice; null endpoints become []', () => {
    const child: EndpointSlice = {
      metadata: {
        name: 'a',
        namespace: 'shop',
        labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'x' },
      },
      addressType: 'IPv6',
      endpoints: null,
      ports: null,
    };
    const p = parentSlice(child, se(), 'd');
    expect(Object.keys(p.metadata.labels ?? {})).not.toContain('endpointslice.kubernetes.io/managed-by');
    expect([p.endpoints, p.ports, p.addressType]).toEqual([[], [], 'IPv6']);
  });
});

describe('desiredParentSlices', () => {
  it('takes the slices of the Service in the export namespace only, sorted by name', () => {
    const children = [
      slice('web-2', 'web', ['10.0.0.2']),
      slice('web-1', 'web', ['10.0.0.1']),
      slice('api-1', 'api', ['10.0.1.1']),
      slice('web-9', 'web', ['10.9.0.1'], 'other'),
      { ...slice('lone', 'web', []), metadata: { name: 'lone', namespace: 'shop' } },
    ];
    expect(desiredParentSlices(se(), children, 'd').map((s) => s.metadata.name)).toEqual(['shop-web-1', 'shop-web-2']);
  });
});

describe('planSlices', () => {
  const want = (name: string, ips: string[]): EndpointSlice => parentSlice(slice(name, 'web', ips), se(), 'd');
  const have = (name: string, ips: string[], rv = '5'): EndpointSlice => {
    const w = want(name, ips);
    return { ...w, metadata: { ...w.metadata, resourceVersion: rv, labels: { ...w.metadata.labels, extra: 'kept' } } };
  };

  it('nothing to do when the parent matches (labels of the parent copy are not compared)', () => {
    expect(planSlices([want('a', ['1.1.1.1'])], [have('a', ['1.1.1.1'])])).toEqual({
      delete: [],
      create: [],
      update: [],
    });
  });

  it('creates the missing, deletes the stale, updates the changed keeping metadata and resourceVersion', () => {
    const plan = planSlices(
      [want('a', ['1.1.1.1']), want('b', ['2.2.2.2']), want('c', ['3.3.3.3'])],
      [have('a', ['1.1.1.1']), have('b', ['9.9.9.9'], '11'), have('z', ['7.7.7.7'])],
    );
    expect(plan.delete).toEqual(['shop-z']);
    expect(plan.create.map((s) => s.metadata.name)).toEqual(['shop-c']);
    expect(plan.update).toHaveLength(1);
    expect(plan.update[0]?.metadata).toEqual(have('b', [], '11').metadata);
    expect(plan.update[0]?.endpoints).toEqual(want('b', ['2.2.2.2']).endpoints);
  });

  it('an unexported or emptied Service: every parent slice is stale', () => {
    expect(planSlices([], [have('a', []), have('b', [])]).delete).toEqual(['shop-a', 'shop-b']);
  });

  it('a changed port or address type is an update', () => {
    const w = want('a', ['1.1.1.1']);
    expect(planSlices([{ ...w, ports: [{ port: 81 }] }], [have('a', ['1.1.1.1'])]).update).toHaveLength(1);
    expect(planSlices([{ ...w, addressType: 'IPv6' }], [have('a', ['1.1.1.1'])]).update).toHaveLength(1);
  });
});

describe('enqueue rules', () => {
  it.each([
    ['added', undefined, se(), true],
    ['deleted', se(), undefined, true],
    ['our finalizer appeared', se(), se({ finalizers: [finalizer] }), true],
    [
      'deletion started',
      se({ finalizers: [finalizer] }),
      se({ finalizers: [finalizer], deletionTimestamp: 't' }),
      true,
    ],
    ['subscription label changed', se(), se({ labels: { 'apps.clusternet.io/subs.namespace': 'x' } }), true],
    ['only the resourceVersion (a status write)', se(), se({ resourceVersion: '8' }), false],
  ])('ServiceExport %s → %s', (_n, before, after, expected) => {
    expect(exportNeedsWork(before, after)).toBe(expected);
  });

  it.each([
    ['added', undefined, slice('a', 'web', ['1.1.1.1']), true],
    ['endpoints changed', slice('a', 'web', ['1.1.1.1']), slice('a', 'web', ['1.1.1.2']), true],
    ['moved to another Service', slice('a', 'web', []), slice('a', 'api', []), true],
    [
      'only metadata changed',
      slice('a', 'web', ['1.1.1.1']),
      { ...slice('a', 'web', ['1.1.1.1']), metadata: { ...slice('a', 'web', []).metadata, resourceVersion: '9' } },
      false,
    ],
  ])('EndpointSlice %s → %s', (_n, before, after, expected) => {
    expect(sliceNeedsWork(before, after)).toBe(expected);
  });
});

describe('takeUpTo', () => {
  it('starts pending keys in order while fewer than the limit are active', () => {
    const q = ['a', 'b', 'c'].reduce(enqueue, emptyQueue);
    const first = takeUpTo(q, 2);
    expect(first.started).toEqual(['a', 'b']);
    expect(takeUpTo(first.queue, 2).started).toEqual([]);
    expect(takeUpTo(first.queue, 3).started).toEqual(['c']);
  });
});
