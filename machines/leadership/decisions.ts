// Pure decisions of leader election (spec §6), with client-go's Lease semantics: a Lease held by
// someone else is respected until `leaseDurationSeconds` have passed since *we observed* its record
// change (our own clock, never the holder's renewTime, so clock skew between replicas does not matter);
// an empty holder (a released Lease) may be taken at once.
//
// Two clocks: `now` is steady time (never steps back), for expiry; `wallNow` is wall time, written as
// acquireTime/renewTime for people and tools to read, as client-go writes them. A wall clock stepped
// after start therefore shows in the Lease's times but never shortens or stretches a lease.

/** The election's timing, in milliseconds (client-go: 15 s / 10 s / 2 s). */
export interface ElectionTiming {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** The Lease's spec as leader election reads and writes it; times are epoch milliseconds (wall time). */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: number | undefined;
  readonly renewTime: number | undefined;
  readonly leaseTransitions: number;
}

/** The record last seen, and when (our steady clock) it was first seen in that form. */
export interface Observation {
  readonly record: LeaseRecord;
  readonly at: number;
}

export type LeaseDecision =
  /** No Lease yet: create it, holding it. */
  | { readonly action: 'create'; readonly record: LeaseRecord }
  /** Write this record over the one read (acquire, or renew when already ours). */
  | { readonly action: 'update'; readonly record: LeaseRecord; readonly acquiring: boolean }
  /** Someone else holds it: wait. `expiresAt` is when it may be taken if they stop renewing. */
  | { readonly action: 'wait'; readonly holder: string; readonly expiresAt: number };

const sameRecord = (a: LeaseRecord, b: LeaseRecord): boolean =>
  a.holderIdentity === b.holderIdentity &&
  a.leaseDurationSeconds === b.leaseDurationSeconds &&
  a.acquireTime === b.acquireTime &&
  a.renewTime === b.renewTime &&
  a.leaseTransitions === b.leaseTransitions;

/** The observation after reading `record` at `now`: the clock restarts only when the record changed. */
export function observeLease(previous: Observation | undefined, record: LeaseRecord, now: number): Observation {
  return previous !== undefined && sameRecord(previous.record, record) ? previous : { record, at: now };
}

/**
 * What to do after reading the Lease (`record` undefined: it does not exist) at `now` (steady) and
 * `wallNow` (wall), given the observation made from this read (see observeLease).
 */
export function decideLease(
  record: LeaseRecord | undefined,
  me: string,
  now: number,
  timing: ElectionTiming,
  observation: Observation | undefined,
  wallNow: number,
): LeaseDecision {
  const leaseDurationSeconds = Math.ceil(timing.leaseDurationMs / 1000);
  if (record === undefined) {
    return {
      action: 'create',
      record: {
        holderIdentity: me,
        leaseDurationSeconds,
        acquireTime: wallNow,
        renewTime: wallNow,
        leaseTransitions: 0,
      },
    };
  }
  const holder = record.holderIdentity;
  if (holder !== '' && holder !== me) {
    const seenAt = observation?.at ?? now;
    const expiresAt = seenAt + record.leaseDurationSeconds * 1000;
    if (expiresAt > now) return { action: 'wait', holder, expiresAt };
  }
  const mine = holder === me;
  return {
    action: 'update',
    acquiring: !mine,
    record: {
      holderIdentity: me,
      leaseDurationSeconds,
      acquireTime: mine ? (record.acquireTime ?? wallNow) : wallNow,
      renewTime: wallNow,
      // client-go counts a transition whenever the holder changes, from a released (empty) one too.
      leaseTransitions: mine ? record.leaseTransitions : record.leaseTransitions + 1,
    },
  };
}

/**
 * The record a leader writes when it steps down at `wallNow` (wall time): no holder, 1 s duration
 * (client-go ReleaseOnCancel).
 */
export function releasedRecord(held: LeaseRecord, wallNow: number): LeaseRecord {
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: wallNow,
    renewTime: wallNow,
    leaseTransitions: held.leaseTransitions,
  };
}

/**
 * How long a leader may keep working after the renewal it sent at `sentAt` succeeded (at `now`): the
 * renew deadline counts from when the request left, so the leader always stops before any standby,
 * which counts the lease duration (longer) from when it saw the renewal (later), may take over.
 */
export function workDeadline(sentAt: number, now: number, timing: ElectionTiming): number {
  return Math.max(0, timing.renewDeadlineMs - Math.max(0, now - sentAt));
}

/**
 * Whether a leader's term is over at `now` (steady time): its work deadline, `leaderUntil`, has come.
 * Asked before every renewal and, through `lease.check`, before other leader-only work runs: after a
 * pause (SIGSTOP, a stalled VM) timers due before the deadline fire after it, in any order.
 */
export function termOver(leaderUntil: number, now: number): boolean {
  return now >= leaderUntil;
}
