import { describe, expect, it } from 'vitest';
import { deployerStartupStates } from '../../../machines/deployer/machine.ts';
import { routineCollectionStates } from '../../../machines/heartbeat/machine.ts';
import { isRepeat, isRoutine, type TransitionRecord } from '../../../src/logging/transitions.ts';

const routine = new Map([['heartbeat', new Set(routineCollectionStates)]]);
const record = (machine: string, from: string, to: string): TransitionRecord => ({ machine, from, to, event: 'x' });
const hb = (collection: string, reporting: string): string =>
  `nodes.watching,collection.${collection},reporting.${reporting}`;

describe('routine transitions (logged at debug)', () => {
  it.each([
    ['the periodic collection starting', hb('idle', 'waiting'), hb('collecting', 'waiting'), true],
    ['the periodic collection ending', hb('collecting', 'waiting'), hb('idle', 'waiting'), true],
    ['a node change debounced', hb('idle', 'waiting'), hb('soon', 'waiting'), true],
    ['a collection that also starts a report', hb('collecting', 'waiting'), hb('idle', 'sending'), false],
    ['a report failing', hb('idle', 'sending'), hb('idle', 'backingOff'), false],
    [
      'the node watch backing off',
      hb('idle', 'waiting'),
      hb('idle', 'waiting').replace('watching', 'backingOff'),
      false,
    ],
    ['the first state of a machine', '', hb('idle', 'waiting'), false],
  ])('%s → %s', (_name, from, to, expected) => {
    expect(isRoutine(record('heartbeat', from, to), routine)).toBe(expected);
  });

  it.each([
    ['xstate.done.actor.collect', true],
    ['xstate.error.actor.collect', false],
  ])('the collection ending on %s: routine %s', (event, expected) => {
    const t = { ...record('heartbeat', hb('collecting', 'waiting'), hb('idle', 'waiting')), event };
    expect(isRoutine(t, routine)).toBe(expected);
  });

  it('only for the machine the states belong to', () => {
    expect(isRoutine(record('socket', 'collection.idle', 'collection.collecting'), routine)).toBe(false);
  });

  it.each([
    ['the first failure to load the credentials', 'loadingCredentials', 'waitingForCredentials', 1, false],
    ['a repeated failure (the machine warns per kind)', 'loadingCredentials', 'waitingForCredentials', 2, true],
  ])('the deployer: %s is routine: %s', (_name, from, to, attempt, expected) => {
    const deployer = new Map([['deployer', new Set(deployerStartupStates)]]);
    const t = { machine: 'deployer', from, to, event: 'xstate.error.actor.loadCredentials', attempt };
    expect(isRoutine(t, deployer, new Set(['deployer']))).toBe(expected);
    // Not for a machine that did not ask for it.
    expect(isRoutine(t, deployer)).toBe(false);
  });
});

describe('repeats of a loop on the same failure (logged at debug)', () => {
  const reg = (from: string, to: string, rejectedApprovals?: number): TransitionRecord => ({
    ...record('registration', from, to),
    ...(rejectedApprovals === undefined ? {} : { rejectedApprovals }),
  });
  const loop = (n: number): TransitionRecord[] => [
    reg('approvedCredentialsRejected', 'awaitingApproval.polling', n),
    reg('awaitingApproval.polling', 'storingCredentials.writing', n),
    reg('storingCredentials.writing', 'verifying', n),
    reg('verifying', 'approvedCredentialsRejected', n + 1),
  ];

  it('logs the first loop at info, later ones at debug, and everything after it at info again', () => {
    const seen = new Map<string, Set<string>>();
    const repeats = (rs: TransitionRecord[]): boolean[] => rs.map((r) => isRepeat(r, seen));
    expect(repeats([reg('storingCredentials.writing', 'verifying'), reg('verifying', 'approvedCredentialsRejected', 1)]))
      .toEqual([false, false]); // prettier-ignore
    expect(repeats(loop(1))).toEqual([false, false, false, true]);
    expect(repeats(loop(2))).toEqual([true, true, true, true]);
    // Something new in the loop (the bootstrap token rejected too) is said.
    expect(repeats([reg('awaitingApproval.polling', 'rejected', 3)])).toEqual([false]);
    // Registered: the streak ends; the next rejection is said again.
    expect(repeats([reg('verifying', 'registered'), reg('verifying', 'approvedCredentialsRejected', 1)])).toEqual([
      false,
      false,
    ]);
  });

  it('keeps a streak per machine', () => {
    const seen = new Map<string, Set<string>>();
    expect(isRepeat(reg('a', 'b', 1), seen)).toBe(false);
    expect(isRepeat({ ...record('socket', 'a', 'b'), rejectedApprovals: 1 }, seen)).toBe(false);
    expect(isRepeat(reg('a', 'b', 2), seen)).toBe(true);
  });
});
