import { describe, expect, it } from 'vitest';
import { deployerStartupStates } from '../../../machines/deployer/machine.ts';
import { routineCollectionStates } from '../../../machines/heartbeat/machine.ts';
import { isRoutine, type TransitionRecord } from '../../../src/logging/transitions.ts';

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
