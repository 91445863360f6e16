import { describe, expect, it } from 'vitest';
import { finalizer, type Description } from '../../../machines/deployer/decisions.ts';
import { DescriptionStore } from '../../../src/deployer/descriptions.ts';

const d = (name: string, generation: number, rv: string, over: Partial<Description> = {}): Description => ({
  metadata: { name, namespace: 'ns', generation, resourceVersion: rv, finalizers: [finalizer] },
  spec: { deployer: 'Generic', raw: [] },
  ...over,
});

describe('DescriptionStore', () => {
  it('queues every Description of a first list, then only those that changed or went away', () => {
    const s = new DescriptionStore();
    expect(s.replace([d('a', 1, '1'), d('b', 1, '2')], '2').keys).toEqual(['ns/a', 'ns/b']);
    expect(s.synced).toBe(true);
    expect(s.replace([d('a', 1, '3', { status: { phase: 'Success' } }), d('c', 1, '4')], '4').keys).toEqual([
      'ns/c',
      'ns/b',
    ]);
    expect(s.get('ns/b')).toBeUndefined();
    expect(s.resourceVersion).toBe('4');
  });

  it('ignores the agent’s own status writes but not spec changes or deletions', () => {
    const s = new DescriptionStore();
    s.replace([d('a', 1, '1')], '1');
    expect(s.apply('MODIFIED', d('a', 1, '2', { status: { phase: 'Success' } }))).toBeUndefined();
    expect(s.apply('MODIFIED', d('a', 2, '3'))).toBe('ns/a');
    expect(s.apply('DELETED', d('a', 2, '4'))).toBe('ns/a');
    expect(s.get('ns/a')).toBeUndefined();
    expect(s.resourceVersion).toBe('4');
  });

  it('keeps the copy the agent wrote, and forgets everything on reset', () => {
    const s = new DescriptionStore();
    s.replace([d('a', 1, '1')], '1');
    s.remember(d('a', 1, '5', { status: { phase: 'Failure' } }));
    s.remember(d('unknown', 1, '6'));
    expect(s.get('ns/a')?.metadata.resourceVersion).toBe('5');
    expect(s.get('ns/unknown')).toBeUndefined();
    s.reset();
    expect([s.size, s.synced, s.resourceVersion]).toEqual([0, false, undefined]);
  });
});
