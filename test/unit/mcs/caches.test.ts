import { describe, expect, it } from 'vitest';
import { finalizer, type EndpointSlice, type ServiceExport } from '../../../machines/mcs/decisions.ts';
import { ExportCache, SliceCache } from '../../../src/mcs/caches.ts';

const slice = (name: string, service: string | undefined, ips: string[], rv = '1'): EndpointSlice => ({
  metadata: {
    name,
    namespace: 'shop',
    resourceVersion: rv,
    labels: { ...(service === undefined ? {} : { 'kubernetes.io/service-name': service }), other: 'x' },
  },
  addressType: 'IPv4',
  endpoints: ips.map((ip) => ({ addresses: [ip] })),
  ports: [{ port: 80 }],
});

describe('SliceCache', () => {
  it('indexes slices by Service, keeps only what the copy needs, and names the ServiceExports to reconcile', () => {
    const c = new SliceCache();
    expect(
      c.replace([slice('a', 'web', ['1.1.1.1']), slice('b', 'web', []), slice('c', undefined, [])], '10').sort(),
    ).toEqual(['shop/web']);
    expect(
      c
        .ofService('shop/web')
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(c.get('shop/a')?.metadata.labels).toEqual({ 'kubernetes.io/service-name': 'web' });
    // A metadata-only change needs nothing; moving to another Service concerns both.
    expect(c.apply('MODIFIED', slice('a', 'web', ['1.1.1.1'], '11'))).toEqual([]);
    expect(c.apply('MODIFIED', slice('a', 'api', ['1.1.1.1'], '12')).sort()).toEqual(['shop/api', 'shop/web']);
    expect(c.ofService('shop/web').map((s) => s.metadata.name)).toEqual(['b']);
    expect(c.apply('DELETED', slice('b', 'web', [], '13'))).toEqual(['shop/web']);
    expect(c.ofService('shop/web')).toEqual([]);
    expect(c.resourceVersion).toBe('13');
    // A relist drops what is gone and reports it.
    expect(c.replace([], '20')).toEqual(['shop/api']);
    expect(c.size).toBe(0);
  });
});

describe('ExportCache', () => {
  it('remembers its own finalizer write, so the watch event of it queues nothing', () => {
    const c = new ExportCache();
    const se: ServiceExport = { metadata: { name: 'web', namespace: 'shop', resourceVersion: '1' } };
    expect(c.replace([se], '1')).toEqual(['shop/web']);
    const withIt: ServiceExport = { metadata: { ...se.metadata, resourceVersion: '2', finalizers: [finalizer] } };
    c.remember(withIt);
    expect(c.apply('MODIFIED', withIt)).toEqual([]);
    expect(c.apply('MODIFIED', { metadata: { ...withIt.metadata, deletionTimestamp: 'now' } })).toEqual(['shop/web']);
  });
});
