import { describe, expect, it } from 'vitest';
import {
  clientGoCorrelation,
  type CoreEvent,
  type EventPatch,
  type ObjectEvent,
} from '../../../src/kube/event-correlator.ts';
import { EventRecorder, type EventSink } from '../../../src/kube/event-recorder.ts';

const ev = (message: string, name = 'd1'): ObjectEvent => ({
  involved: { apiVersion: 'apps.clusternet.io/v1alpha1', kind: 'Description', namespace: 'ns', name, uid: 'u' },
  type: 'Normal',
  reason: 'Synced',
  message,
});

/** An in-memory events collection, optionally slow or failing. */
class FakeSink implements EventSink {
  readonly stored = new Map<string, CoreEvent>();
  readonly calls: string[] = [];
  private rv = 0;
  gate: Promise<void> = Promise.resolve();
  failing = false;

  async create(e: CoreEvent): Promise<CoreEvent> {
    await this.gate;
    this.calls.push(`POST ${e.metadata.name}`);
    if (this.failing) throw new Error('parent unreachable');
    if (this.stored.has(e.metadata.name)) throw new Error('AlreadyExists');
    const saved = { ...e, metadata: { ...e.metadata, resourceVersion: String(++this.rv) } };
    this.stored.set(e.metadata.name, saved);
    return saved;
  }

  async patch(e: CoreEvent, p: EventPatch): Promise<CoreEvent | undefined> {
    await this.gate;
    this.calls.push(`PATCH ${e.metadata.name} count=${String(p.count)}`);
    if (this.failing) throw new Error('parent unreachable');
    const old = this.stored.get(e.metadata.name);
    if (old === undefined) return undefined;
    const saved = { ...old, ...p, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.stored.set(e.metadata.name, saved);
    return saved;
  }
}

describe('EventRecorder', () => {
  it('creates an Event, then patches its count for a repeat', async () => {
    const sink = new FakeSink();
    let t = Date.UTC(2026, 0, 1);
    const r = new EventRecorder({ sink: () => sink, now: () => (t += 1000) });
    r.record(ev('a'));
    r.record(ev('a'));
    r.record(ev('b'));
    r.record(ev('a'));
    await r.idle();
    expect(sink.stored.size).toBe(2);
    const [a, b] = [...sink.stored.values()];
    expect(a?.message).toBe('a');
    expect(a?.count).toBe(3);
    expect(a?.lastTimestamp).not.toBe(a?.firstTimestamp);
    expect(b?.count).toBe(1);
    expect(sink.calls.map((c) => c.split(' ')[0])).toEqual(['POST', 'PATCH', 'POST', 'PATCH']);
    expect(a?.source).toEqual({ component: 'clusternet-agent' });
    expect(a?.metadata.name).toMatch(/^d1\.[0-9a-f]+$/);
  });

  it('creates the Event again when the one to count up is gone', async () => {
    const sink = new FakeSink();
    const r = new EventRecorder({ sink: () => sink });
    r.record(ev('a'));
    await r.idle();
    sink.stored.clear();
    r.record(ev('a'));
    await r.idle();
    expect(sink.calls.map((c) => c.split(' ')[0])).toEqual(['POST', 'PATCH', 'POST']);
    expect([...sink.stored.values()][0]?.count).toBe(2);
  });

  it('never blocks the caller: a stuck parent fills a bounded queue, the rest is dropped once-logged', async () => {
    const sink = new FakeSink();
    let release = (): void => undefined;
    sink.gate = new Promise((r) => (release = r));
    const dropped: string[] = [];
    const r = new EventRecorder({ sink: () => sink, queueCap: 3, onDropped: (why) => dropped.push(why) });
    for (let i = 0; i < 10; i++) r.record(ev(`m${String(i)}`, `obj${String(i)}`));
    // One in flight, three queued, six dropped, said once.
    expect(dropped).toEqual(['the event queue is full']);
    release();
    await r.idle();
    expect(sink.stored.size).toBe(4);
  });

  it('a failing parent is reported, not thrown, and later events still go out', async () => {
    const sink = new FakeSink();
    sink.failing = true;
    const dropped: string[] = [];
    const r = new EventRecorder({ sink: () => sink, onDropped: (why) => dropped.push(why) });
    r.record(ev('a'));
    await r.idle();
    expect(dropped).toEqual(['parent unreachable']);
    sink.failing = false;
    r.record(ev('b'));
    await r.idle();
    expect([...sink.stored.values()].map((e) => e.message)).toEqual(['b']);
  });

  it('an onDropped that throws neither stops the sender nor makes record throw', async () => {
    const sink = new FakeSink();
    sink.failing = true;
    let calls = 0;
    const r = new EventRecorder({
      sink: () => sink,
      queueCap: 1,
      onDropped: () => {
        calls++;
        throw new Error('the logger broke');
      },
    });
    r.record(ev('a'));
    expect(() => {
      r.record(ev('b'));
      r.record(ev('c')); // the queue is full: told (and thrown) at once
    }).not.toThrow();
    await r.idle();
    expect(calls).toBe(3); // the full queue, then the failed writes of a and b
    sink.failing = false;
    r.record(ev('d'));
    await r.idle();
    expect([...sink.stored.values()].map((e) => e.message)).toEqual(['d']);
  });

  it('drops events while there are no parent credentials', async () => {
    const dropped: string[] = [];
    const r = new EventRecorder({ sink: () => undefined, onDropped: (why) => dropped.push(why) });
    r.record(ev('a'));
    await r.idle();
    expect(dropped).toEqual(['no credentials for the parent yet']);
  });

  it('a wall clock set back an hour does not mute an object: the spam filter runs on steady time', async () => {
    const sink = new FakeSink();
    const hour = 3_600_000;
    let wall = Date.UTC(2026, 0, 1);
    let steady = 0;
    const correlation = { ...clientGoCorrelation, spam: { perSecond: 1 / 300, burst: 1 } };
    const r = new EventRecorder({ sink: () => sink, correlation, now: () => wall, steadyNow: () => steady });
    r.record(ev('a'));
    await r.idle();
    // The clock is set back an hour; five minutes later (steady) the bucket has a token again.
    wall -= hour;
    steady += 300_000;
    r.record(ev('b'));
    await r.idle();
    expect([...sink.stored.values()].map((e) => e.message)).toEqual(['a', 'b']);
    // The Event carries the wall time, stepped back as it is.
    expect([...sink.stored.values()][1]?.firstTimestamp).toBe('2025-12-31T23:00:00Z');
  });

  it('gives events recorded in the same millisecond distinct names', async () => {
    const sink = new FakeSink();
    const r = new EventRecorder({ sink: () => sink, now: () => 1_000 });
    r.record(ev('a'));
    r.record({ ...ev('b'), reason: 'SuccessfullyDeployed' });
    await r.idle();
    expect(sink.stored.size).toBe(2);
  });
});
