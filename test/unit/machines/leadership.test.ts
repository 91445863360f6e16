import { createActor, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { releasedRecord } from '../../../machines/leadership/decisions.ts';
import { leadershipMachine, termGuards } from '../../../machines/leadership/machine.ts';
import { transitionRecorder } from '../../../src/logging/transitions.ts';
import { FakeLeaseStore, settle } from './lease-store.ts';
import { electionTiming } from '../../../machines/leadership/timing.ts';
import { shippedConfig } from './shipped-config.ts';

// The shipped numbers (15 s / 10 s / 2 s, client-go's), through the builder src/ uses.
const timing = electionTiming(shippedConfig().leaderElection);

/** One replica's leadership machine on the shared store; records its reports and states with times. */
function replica(clock: SimulatedClock, store: FakeLeaseStore, identity: string, enabled = true) {
  const reports: { type: string; at: number }[] = [];
  const trace: string[] = [];
  const machine = leadershipMachine.provide({
    actors: store.actors(),
    guards: termGuards(() => clock.now()),
    actions: {
      reportLeading: () => reports.push({ type: 'lease.acquired', at: clock.now() }),
      reportLost: () => reports.push({ type: 'lease.lost', at: clock.now() }),
    },
  });
  const actor = createActor(machine, {
    input: { identity, enabled, timing },
    clock,
    inspect: transitionRecorder((t) => trace.push(t.to)),
  });
  actor.start();
  const leading = (): boolean => reports.at(-1)?.type === 'lease.acquired';
  return { actor, reports, trace, leading, context: () => actor.getSnapshot().context };
}

describe('leadership machine', () => {
  it('acquires a missing Lease by creating it, then renews every retry period', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock);
    expect(a.trace).toEqual(['following.reading', 'following.acquiring', 'leading.term.holding']);
    expect(a.reports).toEqual([{ type: 'lease.acquired', at: 0 }]);
    expect(store.record).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: 0,
      renewTime: 0,
      leaseTransitions: 0,
    });

    await settle(clock, 30_000);
    expect(a.leading()).toBe(true);
    expect(a.reports).toHaveLength(1);
    expect(store.writes.map((w) => w.at)).toEqual([
      0, 2000, 4000, 6000, 8000, 10_000, 12_000, 14_000, 16_000, 18_000, 20_000, 22_000, 24_000, 26_000, 28_000, 30_000,
    ]);
    expect(store.record).toMatchObject({ holderIdentity: 'a', acquireTime: 0, renewTime: 30_000, leaseTransitions: 0 });
    expect(a.trace.slice(-3)).toEqual(['leading.term.renewing', 'leading.term.writing', 'leading.term.holding']);
  });

  it('stands by while another replica renews; exactly one leads', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock);
    const b = replica(clock, store, 'b');
    await settle(clock, 60_000);
    expect(a.leading()).toBe(true);
    expect(b.reports).toEqual([]);
    expect(b.context().holder).toBe('a');
    expect(b.trace.filter((s) => s === 'following.acquiring')).toEqual([]);
  });

  it('writes wall time as acquireTime/renewTime: a wall clock set back shows there, leadership holds', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const hour = 3_600_000;
    store.wallOffsetMs = 1_000_000;
    const a = replica(clock, store, 'a');
    await settle(clock);
    expect(store.record).toMatchObject({ acquireTime: 1_000_000, renewTime: 1_000_000 });
    const b = replica(clock, store, 'b');
    await settle(clock, 10_000);
    store.wallOffsetMs -= hour;
    await settle(clock, 30_000);
    // Renewed at 40 s steady, written an hour back; acquired on the wall clock of then.
    expect(store.record).toMatchObject({ holderIdentity: 'a', acquireTime: 1_000_000, renewTime: 1_040_000 - hour });
    expect(a.reports).toEqual([{ type: 'lease.acquired', at: 0 }]);
    expect(b.reports).toEqual([]);
  });

  it('loses a conflict on a concurrent write and stays a follower', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    store.latencyMs = 10;
    // Both read "no Lease" and both try to create it: only one create can win.
    const a = replica(clock, store, 'a');
    const b = replica(clock, store, 'b');
    await settle(clock, 100, 5);
    expect([a.leading(), b.leading()].filter(Boolean)).toHaveLength(1);
    const loser = a.leading() ? b : a;
    expect(loser.context().lastFailure).toMatch(/409/);
    expect(loser.trace).toEqual(['following.reading', 'following.acquiring', 'following.waiting']);
    await settle(clock, 20_000);
    expect([a.leading(), b.leading()].filter(Boolean)).toHaveLength(1);
  });

  it('retries a renewal that conflicts, and keeps leading', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock);
    store.version += 1; // someone annotated the Lease (e.g. the legacy cluster ID): the next write conflicts
    await settle(clock, 1900);
    const bump = store.read.bind(store);
    let bumped = false;
    store.read = async () => {
      const r = await bump();
      if (!bumped) {
        bumped = true;
        store.version += 1;
      }
      return r;
    };
    await settle(clock, 200);
    expect(a.context().lastFailure).toMatch(/409 Conflict/);
    expect(a.trace.slice(-3)).toEqual(['leading.term.renewing', 'leading.term.writing', 'leading.term.holding']);
    await settle(clock, 2000);
    expect(a.leading()).toBe(true);
    expect(store.record?.renewTime).toBe(4000);
  });

  it('stops working at the renew deadline when it cannot renew, before a standby may take over', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    store.latencyMs = 50;
    const a = replica(clock, store, 'a');
    await settle(clock, 100, 10);
    const b = replica(clock, store, 'b');
    await settle(clock, 4000, 10);
    const lastRenewSent = (store.writes.at(-1)?.at ?? 0) - 50;
    // The apiserver stops answering (paused): a's renewals hang. Then it answers again, for b only.
    store.paused = true;
    await settle(clock, 10_500, 10);
    expect(a.reports.map((r) => r.type)).toEqual(['lease.acquired', 'lease.lost']);
    const lostAt = a.reports[1]?.at ?? Infinity;
    expect(lostAt).toBeLessThanOrEqual(lastRenewSent + 10_000);
    expect(a.trace).toContain('lost');
    expect(a.context().lastFailure).toMatch(/timed out/);

    // a stays cut off (stopped here); the apiserver answers b again. b takes over only a lease duration
    // after it last saw a renewal: well after a stopped working.
    a.actor.stop();
    store.paused = false;
    // (b first sees a's last renewal only now, so it waits a full lease duration from here: client-go.)
    await settle(clock, 25_000, 10);
    expect(b.reports.map((r) => r.type)).toEqual(['lease.acquired']);
    const acquiredAt = b.reports[0]?.at ?? 0;
    expect(acquiredAt).toBeGreaterThanOrEqual(lastRenewSent + 15_000);
    expect(acquiredAt - lostAt).toBeGreaterThanOrEqual(5000);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it("takes over another holder's Lease right when it expires (a lease duration after the last change seen)", async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    clock.set(1_000_000);
    store.record = {
      holderIdentity: 'crashed',
      leaseDurationSeconds: 15,
      acquireTime: 1,
      renewTime: 2,
      leaseTransitions: 7,
    };
    const a = replica(clock, store, 'a');
    await settle(clock, 14_000);
    expect(a.reports).toEqual([]);
    expect(a.context().holder).toBe('crashed');
    await settle(clock, 2000);
    expect(a.reports).toEqual([{ type: 'lease.acquired', at: 1_015_000 }]);
    expect(store.record).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: 1_015_000,
      renewTime: 1_015_000,
      leaseTransitions: 8,
    });
  });

  it.each([
    ['at once, told by its watch', true, 0],
    ['within a retry period, without a watch', false, 2000],
  ])('releases the Lease on stop; a standby takes it %s', async (_, watchable, withinMs) => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    store.watchable = watchable;
    const a = replica(clock, store, 'a');
    await settle(clock);
    const b = replica(clock, store, 'b');
    await settle(clock, 5000);
    const versionBefore = store.version;
    const releasedAt = clock.now();
    a.actor.send({ type: 'lease.release' });
    await settle(clock);
    expect(a.actor.getSnapshot().status).toBe('done');
    expect(a.trace.slice(-2)).toEqual(['releasing', 'released']);
    expect(store.writes[versionBefore]?.record).toMatchObject({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    await settle(clock, 2000);
    expect(b.reports).toEqual([{ type: 'lease.acquired', at: expect.any(Number) as number }]);
    expect((b.reports[0]?.at ?? Infinity) - releasedAt).toBeLessThanOrEqual(withinMs);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('reads again when the Lease changes while a read is in flight (a release right after a renewal)', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    store.latencyMs = 100;
    const a = replica(clock, store, 'a');
    await settle(clock, 300, 10);
    const b = replica(clock, store, 'b');
    await settle(clock, 10, 10);
    expect(b.actor.getSnapshot().value).toEqual({ following: 'reading' });
    // The release lands while b's read (which saw a holding the Lease) is on its way back.
    const changedAt = clock.now();
    a.actor.stop();
    if (store.record !== undefined) store.record = releasedRecord(store.record, changedAt);
    store.version += 1;
    b.actor.send({ type: 'lease.changed' });
    await settle(clock, 1000, 10);
    expect(b.reports).toHaveLength(1);
    // One read and one write later, not a retry period later.
    expect((b.reports[0]?.at ?? Infinity) - changedAt).toBeLessThanOrEqual(250);
  });

  it('a leader frozen past its deadline does not renew when the retry timer fires before the deadline timer', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock, 3000); // acquired at 0, renewed at 2000: leading until 12000
    expect(a.context().leaderUntil).toBe(12_000);
    const before = a.trace.length;
    const writes = store.writes.length;
    // SIGSTOP for 20 s, then SIGCONT: every overdue timer fires now (23000), in the order they were
    // due: the renewal's (4000) before the deadline's (12000).
    clock.increment(20_000);
    await settle(clock);
    expect(a.trace.slice(before, before + 2)).toEqual(['lost', 'following.reading']);
    expect(a.trace.slice(before)).not.toContain('leading.term.renewing');
    // It stops working first; then, as a follower, it finds its own Lease unclaimed and takes it again.
    expect(a.reports.slice(-2)).toEqual([
      { type: 'lease.lost', at: 23_000 },
      { type: 'lease.acquired', at: 23_000 },
    ]);
    expect(store.writes.slice(writes).map((w) => w.at)).toEqual([23_000]);
  });

  it('lease.check: ends the term once its deadline has passed, and only then', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock, 3000);
    a.actor.send({ type: 'lease.check' });
    expect(a.leading()).toBe(true);
    store.paused = true; // renewals hang from now on
    await settle(clock, 8900); // 11900: the deadline (12000) has not come
    a.actor.send({ type: 'lease.check' });
    expect(a.leading()).toBe(true);
    clock.increment(100);
    expect(a.reports.at(-1)).toEqual({ type: 'lease.lost', at: 12_000 });
  });

  it('a Lease deleted while leading is created again with the known cluster ID as legacy-cluster-id', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock, 1000);
    expect(store.annotations).toEqual({}); // the first Lease: the ID is its UID, nothing to carry
    a.actor.send({ type: 'identity.known', clusterId: '11111111-2222-3333-4444-555555555555' });
    store.record = undefined; // kubectl delete lease
    await settle(clock, 2000);
    expect(a.leading()).toBe(true);
    expect(a.reports).toHaveLength(1); // it went on leading: the Lease was created again
    expect(store.record).toMatchObject({ holderIdentity: 'a' });
    expect(store.annotations).toEqual({ 'legacy-cluster-id': '11111111-2222-3333-4444-555555555555' });
  });

  it('does not touch a Lease it does not hold when stopped', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock);
    const b = replica(clock, store, 'b');
    await settle(clock, 3000);
    const before = store.version;
    b.actor.send({ type: 'lease.release' });
    await settle(clock);
    expect(b.actor.getSnapshot().status).toBe('done');
    expect(store.version).toBe(before);
    expect(a.leading()).toBe(true);
  });

  it('gives up a release that hangs after the request timeout', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock);
    store.paused = true;
    a.actor.send({ type: 'lease.release' });
    await settle(clock, 5000);
    expect(a.actor.getSnapshot().status).toBe('done');
    expect(a.context().lastFailure).toMatch(/timed out/);
  });

  it('with --leader-elect=false works at once, never touching a Lease', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a', false);
    await settle(clock, 10_000);
    expect(a.reports).toEqual([{ type: 'lease.acquired', at: 0 }]);
    expect(store.writes).toEqual([]);
    a.actor.send({ type: 'lease.release' });
    await settle(clock);
    expect(a.actor.getSnapshot().status).toBe('done');
  });

  it('refuses to run without its effects provided', async () => {
    const actor = createActor(leadershipMachine.provide({ actions: { reportLeading: () => undefined } }), {
      input: { identity: 'a', enabled: true, timing },
    });
    actor.start();
    await new Promise((r) => setImmediate(r));
    expect(actor.getSnapshot().context.lastFailure).toMatch(/(readLease|watchLease) not provided/);
    expect(actor.getSnapshot().value).toEqual({ following: 'waiting' });
    actor.stop();
  });
});
