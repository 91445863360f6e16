import { describe, expect, it } from 'vitest';
import {
  aggregateKey,
  clientGoCorrelation,
  EventCorrelator,
  eventKey,
  eventName,
  Lru,
  makeEvent,
  nextNanos,
  spamKey,
  type CoreEvent,
  type CorrelationTime,
  type ObjectEvent,
} from '../../../src/kube/event-correlator.ts';
import { rfc3339Seconds } from '../../../src/kube/meta-time.ts';

const source = { component: 'clusternet-agent' };
const desc = {
  apiVersion: 'apps.clusternet.io/v1alpha1',
  kind: 'Description',
  namespace: 'clusternet-abcde',
  name: 'app-generic',
  uid: 'u-1',
  resourceVersion: '42',
};
const ev = (over: Partial<ObjectEvent> = {}): ObjectEvent => ({
  involved: desc,
  type: 'Normal',
  reason: 'Synced',
  message: 'Description synced successfully',
  ...over,
});
let nanos = 0n;
/** Steady and wall time alike (the clocks agree until the wall clock steps). */
const at = (ms: number): CorrelationTime => ({ steadyMs: ms, wallMs: ms });
const make = (e: ObjectEvent, ms = 0): CoreEvent => makeEvent(e, source, ms, (nanos += 1n));

describe('a new Event', () => {
  it('is named <object>.<hex nanos>, in the object’s namespace, from clusternet-agent', () => {
    const e = makeEvent(ev(), source, Date.UTC(2026, 10, 24, 6, 0, 0, 999), 0x187a3b2c4d5e6f70n);
    expect(e).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'app-generic.187a3b2c4d5e6f70', namespace: 'clusternet-abcde' },
      involvedObject: desc,
      reason: 'Synced',
      message: 'Description synced successfully',
      type: 'Normal',
      source: { component: 'clusternet-agent' },
      firstTimestamp: '2026-11-24T06:00:00Z',
      lastTimestamp: '2026-11-24T06:00:00Z',
      count: 1,
      reportingComponent: 'clusternet-agent',
      reportingInstance: '',
    });
  });

  it('of a cluster-scoped object goes to the default namespace', () => {
    const clusterScoped = { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u-n' };
    expect(make(ev({ involved: clusterScoped })).metadata.namespace).toBe('default');
  });

  it.each([
    { previous: 0n, nowMs: 1, expected: 1_000_000n },
    { previous: 1_000_000n, nowMs: 1, expected: 1_000_001n },
    { previous: 5_000_000n, nowMs: 2, expected: 5_000_001n },
    { previous: 1_000_000n, nowMs: 3, expected: 3_000_000n },
  ])('nanos for names never repeat: after $previous at $nowMs ms → $expected', ({ previous, nowMs, expected }) => {
    expect(nextNanos(previous, nowMs)).toBe(expected);
  });

  it('formats times and names as metav1 does', () => {
    expect(rfc3339Seconds(0)).toBe('1970-01-01T00:00:00Z');
    expect(eventName('x', 255n)).toBe('x.ff');
  });
});

describe('correlation keys', () => {
  const base = make(ev());
  const other = (patch: Partial<CoreEvent>): CoreEvent => ({ ...base, ...patch });
  it.each([
    { name: 'another message', e: other({ message: 'm2' }), event: false, spam: true, group: true },
    { name: 'another reason', e: other({ reason: 'FailedSynced' }), event: false, spam: true, group: false },
    { name: 'another type', e: other({ type: 'Warning' }), event: false, spam: true, group: false },
    {
      name: 'another object',
      e: other({ involvedObject: { ...desc, name: 'b' } }),
      event: false,
      spam: false,
      group: false,
    },
    {
      name: 'another uid (recreated object)',
      e: other({ involvedObject: { ...desc, uid: 'u-2' } }),
      event: false,
      spam: false,
      group: false,
    },
    {
      name: 'another resourceVersion only',
      e: other({ involvedObject: { ...desc, resourceVersion: '43' } }),
      event: true,
      spam: true,
      group: true,
    },
    {
      name: 'another event name and time',
      e: other({ metadata: { name: 'x.1', namespace: 'n' }, lastTimestamp: 'later' }),
      event: true,
      spam: true,
      group: true,
    },
  ])('$name: same event $event, same spam bucket $spam, same aggregate $group', ({ e, event, spam, group }) => {
    expect(eventKey(e) === eventKey(base)).toBe(event);
    expect(spamKey(e) === spamKey(base)).toBe(spam);
    expect(aggregateKey(e).group === aggregateKey(base).group).toBe(group);
  });
});

describe('EventCorrelator', () => {
  it('counts a repeat: same name, count+1, first time kept, a patch of count/lastTimestamp/message', () => {
    const c = new EventCorrelator();
    const first = c.correlate(make(ev(), 1_000), at(1_000), 1n);
    if (first.skip) throw new Error('skipped');
    expect(first.patch).toBeUndefined();
    expect(first.event.count).toBe(1);
    c.updateState({ ...first.event, metadata: { ...first.event.metadata, resourceVersion: '7' } });

    const second = c.correlate(make(ev(), 61_000), at(61_000), 2n);
    if (second.skip) throw new Error('skipped');
    expect(second.event.metadata).toEqual({ ...first.event.metadata, resourceVersion: '7' });
    expect(second.event.count).toBe(2);
    expect(second.event.firstTimestamp).toBe(first.event.firstTimestamp);
    expect(second.patch).toEqual({
      count: 2,
      lastTimestamp: '1970-01-01T00:01:01Z',
      message: 'Description synced successfully',
    });

    const third = c.correlate(make(ev(), 62_000), at(62_000), 3n);
    expect(!third.skip && third.patch?.count).toBe(3);
  });

  it('does not count events that differ by reason or message', () => {
    const c = new EventCorrelator();
    const a = c.correlate(make(ev()), at(0), 1n);
    const b = c.correlate(make(ev({ reason: 'FailedSynced', type: 'Warning' })), at(0), 2n);
    const d = c.correlate(make(ev({ message: 'other' })), at(0), 3n);
    for (const r of [a, b, d]) expect(!r.skip && r.patch).toBeUndefined();
  });

  it('aggregates the 10th distinct message of one reason within 10 minutes, then counts the aggregate', () => {
    const c = new EventCorrelator();
    const results = Array.from({ length: 12 }, (_, i) =>
      c.correlate(
        make(ev({ reason: 'FailedSynced', message: `error ${String(i)}` }), i * 1000),
        at(i * 1000),
        100n + BigInt(i),
      ),
    );
    const messages = results.map((r) => (r.skip ? 'skip' : r.event.message));
    expect(messages.slice(0, 9)).toEqual(Array.from({ length: 9 }, (_, i) => `error ${String(i)}`));
    expect(messages[9]).toBe('(combined from similar events): error 9');
    expect(messages[10]).toBe('(combined from similar events): error 10');
    const tenth = results[9];
    const eleventh = results[10];
    if (tenth?.skip !== false || eleventh?.skip !== false) throw new Error('skipped');
    expect(tenth.event.metadata.name).toBe('app-generic.6d'); // named from the nanos given at that time
    expect(tenth.patch).toBeUndefined();
    // The next aggregate is a repeat of the first one: same name, count 2.
    expect(eleventh.event.metadata.name).toBe(tenth.event.metadata.name);
    expect(eleventh.patch?.count).toBe(2);
  });

  it('starts aggregation over after 10 quiet minutes', () => {
    const c = new EventCorrelator();
    for (let i = 0; i < 9; i++) c.correlate(make(ev({ message: `m${String(i)}` })), at(0), BigInt(i + 1));
    const later = c.correlate(make(ev({ message: 'm9' })), at(600_001), 99n);
    expect(!later.skip && later.event.message).toBe('m9');
  });

  it('spam filter: 25 events per object at once, then one per 5 minutes; other objects unaffected', () => {
    const c = new EventCorrelator();
    const skipped = (ms: number, e: ObjectEvent = ev()): boolean => c.correlate(make(e, ms), at(ms), 1n).skip;
    const firsts = Array.from({ length: 26 }, () => skipped(0));
    expect(firsts.filter((s) => !s)).toHaveLength(25);
    expect(firsts[25]).toBe(true);
    expect(skipped(0, ev({ involved: { ...desc, name: 'other' } }))).toBe(false);
    expect(skipped(299_000)).toBe(true);
    expect(skipped(300_000)).toBe(false);
    expect(skipped(300_001)).toBe(true);
  });

  it('windows are measured on the steady clock: the wall clock set back an hour mutes nothing', () => {
    const c = new EventCorrelator();
    const hour = 3_600_000;
    // 25 events use the burst; then the wall clock steps back an hour while steady time goes on 5 min.
    for (let i = 0; i < 25; i++) expect(c.correlate(make(ev()), { steadyMs: 0, wallMs: hour }, 1n).skip).toBe(false);
    expect(c.correlate(make(ev()), { steadyMs: 300_000, wallMs: 300_000 }, 2n).skip).toBe(false);
    // And the reverse: a wall clock set forward an hour refills nothing.
    expect(c.correlate(make(ev()), { steadyMs: 300_001, wallMs: 300_000 + hour }, 3n).skip).toBe(true);
  });

  it('an aggregate Event carries wall time, its window steady time', () => {
    const c = new EventCorrelator();
    const wallMs = Date.UTC(2026, 0, 1);
    const results = Array.from({ length: 10 }, (_, i) =>
      c.correlate(make(ev({ message: `m${String(i)}` })), { steadyMs: i, wallMs }, BigInt(i + 1)),
    );
    const tenth = results[9];
    if (tenth?.skip !== false) throw new Error('skipped');
    expect(tenth.event.message).toBe('(combined from similar events): m9');
    expect(tenth.event.firstTimestamp).toBe('2026-01-01T00:00:00Z');
  });

  it('a skipped repeat still counts (as in client-go): the next one written carries the total', () => {
    const c = new EventCorrelator({ ...clientGoCorrelation, spam: { perSecond: 1 / 300, burst: 1 } });
    const first = c.correlate(make(ev()), at(0), 1n);
    if (first.skip) throw new Error('skipped');
    c.updateState(first.event);
    expect(c.correlate(make(ev()), at(1_000), 2n).skip).toBe(true);
    const third = c.correlate(make(ev()), at(300_000), 3n);
    expect(!third.skip && third.patch?.count).toBe(3);
  });
});

describe('Lru', () => {
  it('forgets the least recently used beyond its cap', () => {
    const l = new Lru<number>(2);
    l.set('a', 1);
    l.set('b', 2);
    expect(l.get('a')).toBe(1);
    l.set('c', 3);
    expect(l.get('b')).toBeUndefined();
    expect(l.get('a')).toBe(1);
    expect(l.get('c')).toBe(3);
    expect(l.size).toBe(2);
  });
});
