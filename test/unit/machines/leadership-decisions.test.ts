import { describe, expect, it } from 'vitest';
import {
  decideLease,
  observeLease,
  releasedRecord,
  workDeadline,
  type LeaseRecord,
} from '../../../machines/leadership/decisions.ts';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 };
const me = 'host-a_1';
const other = 'host-b_2';
/** The wall clock runs an hour behind the steady one (set back since start): the Lease's times show it. */
const hour = 3_600_000;
const held = (holder: string, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: 1000,
  renewTime: 5000,
  leaseTransitions: 3,
  ...extra,
});

describe('decideLease (client-go Lease semantics; expiry on steady time, times written in wall time)', () => {
  it.each([
    [
      'creates a missing Lease, holding it',
      undefined,
      100_000,
      undefined,
      {
        action: 'create',
        record: {
          holderIdentity: me,
          leaseDurationSeconds: 15,
          acquireTime: 100_000 - hour,
          renewTime: 100_000 - hour,
          leaseTransitions: 0,
        },
      },
    ],
    [
      'waits while another holder was seen renewing less than a lease duration ago',
      held(other),
      100_000,
      { record: held(other), at: 90_000 },
      { action: 'wait', holder: other, expiresAt: 105_000 },
    ],
    [
      "counts from our observation, not the holder's renewTime (clock skew)",
      held(other, { renewTime: 0 }),
      100_000,
      { record: held(other, { renewTime: 0 }), at: 99_000 },
      { action: 'wait', holder: other, expiresAt: 114_000 },
    ],
    [
      "uses the Lease's own duration",
      held(other, { leaseDurationSeconds: 60 }),
      100_000,
      { record: held(other, { leaseDurationSeconds: 60 }), at: 50_000 },
      { action: 'wait', holder: other, expiresAt: 110_000 },
    ],
    [
      'takes a Lease whose holder stopped renewing a lease duration ago, counting a transition',
      held(other),
      105_000,
      { record: held(other), at: 90_000 },
      {
        action: 'update',
        acquiring: true,
        record: {
          holderIdentity: me,
          leaseDurationSeconds: 15,
          acquireTime: 105_000 - hour,
          renewTime: 105_000 - hour,
          leaseTransitions: 4,
        },
      },
    ],
    [
      'takes a released Lease (empty holder) at once',
      held('', { leaseDurationSeconds: 1 }),
      100_000,
      { record: held('', { leaseDurationSeconds: 1 }), at: 100_000 },
      {
        action: 'update',
        acquiring: true,
        record: {
          holderIdentity: me,
          leaseDurationSeconds: 15,
          acquireTime: 100_000 - hour,
          renewTime: 100_000 - hour,
          leaseTransitions: 4,
        },
      },
    ],
    [
      'renews its own Lease: same acquireTime and transitions, new renewTime',
      held(me),
      100_000,
      { record: held(me), at: 99_000 },
      {
        action: 'update',
        acquiring: false,
        record: {
          holderIdentity: me,
          leaseDurationSeconds: 15,
          acquireTime: 1000,
          renewTime: 100_000 - hour,
          leaseTransitions: 3,
        },
      },
    ],
    [
      'renews its own Lease even when its lease duration has passed (nobody took it)',
      held(me),
      100_000,
      { record: held(me), at: 10_000 },
      {
        action: 'update',
        acquiring: false,
        record: {
          holderIdentity: me,
          leaseDurationSeconds: 15,
          acquireTime: 1000,
          renewTime: 100_000 - hour,
          leaseTransitions: 3,
        },
      },
    ],
  ])('%s', (_, record, now, observation, expected) => {
    expect(decideLease(record, me, now, timing, observation, now - hour)).toEqual(expected);
  });

  it('treats a first sight of another holder as a fresh renewal', () => {
    expect(decideLease(held(other), me, 100_000, timing, undefined, 100_000 - hour)).toEqual({
      action: 'wait',
      holder: other,
      expiresAt: 115_000,
    });
  });
});

describe('observeLease', () => {
  it('keeps the first time a record was seen while it does not change', () => {
    const first = observeLease(undefined, held(other), 1000);
    expect(first).toEqual({ record: held(other), at: 1000 });
    expect(observeLease(first, held(other), 9000)).toBe(first);
  });
  it.each([
    ['renewTime', { renewTime: 6000 }],
    ['holder', { holderIdentity: me }],
    ['transitions', { leaseTransitions: 4 }],
    ['duration', { leaseDurationSeconds: 1 }],
  ])('restarts the clock when the %s changes', (_, change) => {
    const first = observeLease(undefined, held(other), 1000);
    expect(observeLease(first, held(other, change), 9000)).toEqual({ record: held(other, change), at: 9000 });
  });
});

describe('releasedRecord', () => {
  it('clears the holder, shortens the duration to 1 s and keeps the transition count', () => {
    expect(releasedRecord(held(me), 7000)).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: 7000,
      renewTime: 7000,
      leaseTransitions: 3,
    });
  });
});

describe('workDeadline', () => {
  it.each([
    [1000, 1000, 10_000],
    [1000, 1300, 9700],
    [1000, 12_000, 0],
    [1000, 900, 10_000], // a clock step backwards never lengthens it
  ])('sent at %i, answered at %i: %i ms of work left', (sentAt, now, expected) => {
    expect(workDeadline(sentAt, now, timing)).toBe(expected);
  });
});
