import { describe, expect, it } from 'vitest';
import { routineCollectionStates, routineHeartbeatStates } from '../../../machines/heartbeat/machine.ts';
import { routineLeadershipStates } from '../../../machines/leadership/machine.ts';
import {
  isRepeat,
  isRoutine,
  routineLevel,
  transitionLogger,
  transitionRecorder,
  type TransitionRecord,
} from '../../../src/logging/transitions.ts';
import { createActor, createMachine } from 'xstate';
import { logLines } from '../helpers/log-lines.ts';

const routine = new Map([['heartbeat', [routineCollectionStates]]]);
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
    ['the first state of a machine', '', hb('idle', 'waiting'), false],
  ])('%s → %s', (_name, from, to, expected) => {
    expect(isRoutine(record('heartbeat', from, to), routine)).toBe(expected);
  });

  it.each([
    ['a report, its spacing and its wait', hb('idle', 'sending'), hb('idle', 'settling'), true],
    ['a report failing', hb('idle', 'sending'), hb('idle', 'backingOff'), true],
    [
      'the node watch backing off',
      hb('idle', 'waiting'),
      hb('idle', 'waiting').replace('watching', 'backingOff'),
      true,
    ],
    ['the first report (from waitingForStatus)', hb('idle', 'waitingForStatus'), hb('idle', 'sending'), false],
  ])('with every steady loop of the heartbeat: %s is routine: %s', (_name, from, to, expected) => {
    expect(isRoutine(record('heartbeat', from, to), new Map([['heartbeat', [routineHeartbeatStates]]]))).toBe(expected);
  });

  it('only for the machine the states belong to', () => {
    expect(isRoutine(record('socket', 'collection.idle', 'collection.collecting'), routine)).toBe(false);
  });

  it('a lease renewal is routine; losing the term is not', () => {
    const le = new Map([['leadership', routineLeadershipStates]]);
    expect(isRoutine(record('leadership', 'leading.term.holding', 'leading.term.renewing'), le)).toBe(true);
    expect(isRoutine(record('leadership', 'leading.term.writing', 'leading.term.holding'), le)).toBe(true);
    expect(isRoutine(record('leadership', 'following.waiting', 'following.reading'), le)).toBe(true);
    expect(isRoutine(record('leadership', 'leading.term.renewing', 'following.reading'), le)).toBe(false);
    expect(isRoutine(record('leadership', 'following.reading', 'following.acquiring'), le)).toBe(false);
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

describe('the level of a routine transition: by the health of its machine', () => {
  const step = (event: string, attempt: number, lastFailure?: string): TransitionRecord => ({
    machine: 'leadership',
    from: 'leading.term.renewing',
    to: 'leading.term.holding',
    event,
    ...(attempt > 0 ? { attempt } : {}),
    ...(lastFailure === undefined ? {} : { lastFailure }),
  });
  const ok = step('xstate.done.actor.writeLease', 0);
  const refused = (n: number): TransitionRecord =>
    step('xstate.error.actor.readLease', n, 'connect ECONNREFUSED 127.0.0.1:6443');
  const timedOut = (n: number): TransitionRecord => step('xstate.after.requestTimeout', n, 'timed out after 10000 ms');

  it('healthy: debug; first failure of a kind: warn; the same again: debug; a new kind: warn; recovery: info once', () => {
    const failing = new Map<string, Set<string>>();
    const levels = [ok, ok, refused(1), refused(2), refused(3), timedOut(4), refused(5), timedOut(6), ok, ok].map((r) =>
      routineLevel(r, failing),
    );
    expect(levels).toEqual(['debug', 'debug', 'warn', 'debug', 'debug', 'warn', 'debug', 'debug', 'info', 'debug']);
    // After the recovery a failure is news again.
    expect(routineLevel(refused(1), failing)).toBe('warn');
  });

  it('a failure whose message differs only in numbers (a port, a count) is the same kind', () => {
    const failing = new Map<string, Set<string>>();
    expect(routineLevel(refused(1), failing)).toBe('warn');
    expect(routineLevel(step('xstate.error.actor.readLease', 2, 'connect ECONNREFUSED 127.0.0.1:7443'), failing)).toBe(
      'debug',
    );
  });

  it('a machine that reports its own failures and recoveries: always debug', () => {
    const failing = new Map<string, Set<string>>();
    expect(routineLevel(refused(1), failing, new Set(['leadership']))).toBe('debug');
    expect(routineLevel(ok, failing, new Set(['leadership']))).toBe('debug');
  });

  it('streaks are per machine', () => {
    const failing = new Map<string, Set<string>>();
    expect(routineLevel(refused(1), failing)).toBe('warn');
    expect(routineLevel({ ...refused(1), machine: 'heartbeat' }, failing)).toBe('warn');
    expect(routineLevel({ ...ok, machine: 'heartbeat' }, failing)).toBe('info');
    expect(routineLevel(refused(2), failing)).toBe('debug');
  });
});

describe('the transition log of a machine in its steady loop', () => {
  it('writes the start at info and the loop at debug', () => {
    const { log, lines } = logLines();
    const loop = createMachine({
      id: 'loop',
      initial: 'a',
      states: { a: { on: { next: 'b' } }, b: { on: { next: 'a' } } },
    });
    const actor = createActor(loop, {
      inspect: transitionLogger(log, { routine: new Map([['loop', [['a', 'b']]]]) }),
    }).start();
    for (let i = 0; i < 4; i++) actor.send({ type: 'next' });
    expect(lines).toEqual([
      'info loop: (start) → a',
      'debug loop: a → b',
      'debug loop: b → a',
      'debug loop: a → b',
      'debug loop: b → a',
    ]);
  });

  it('writes every step of a quiet machine at debug, the final one included, and nothing after it', () => {
    const { log, lines } = logLines();
    const run = createMachine({
      id: 'run',
      initial: 'a',
      states: { a: { on: { next: 'b' } }, b: { on: { next: 'c' } }, c: { type: 'final' } },
    });
    const inspect = transitionLogger(log, { quiet: new Set(['run']) });
    for (let r = 0; r < 2; r++) {
      const actor = createActor(run, { inspect }).start();
      actor.send({ type: 'next' });
      actor.send({ type: 'next' });
      actor.stop();
    }
    const one = ['debug run: (start) → a', 'debug run: a → b', 'debug run: b → c'];
    expect(lines).toEqual([...one, ...one]);
  });
});

describe('the transition recorder: which actor, and when it ends', () => {
  it('names the actor of each transition and reports its end once: a final state, or stopped by its parent', () => {
    const seen: string[] = [];
    const run = createMachine({ id: 'run', initial: 'a', states: { a: { on: { next: 'b' } }, b: { type: 'final' } } });
    const worker = createMachine({ id: 'worker', initial: 'x', states: { x: {} } });
    const parent = createMachine({
      id: 'parent',
      initial: 'on',
      states: { on: { invoke: { src: worker }, on: { off: 'off' } }, off: {} },
    });
    const inspect = transitionRecorder(
      (t, of) => seen.push(`${of.machine}@${of.actor}: ${t.from} → ${t.to}`),
      (of) => seen.push(`${of.machine}@${of.actor}: ended`),
    );
    const one = createActor(run, { inspect }).start();
    const two = createActor(run, { inspect }).start();
    one.send({ type: 'next' });
    two.stop();
    const p = createActor(parent, { inspect }).start();
    const child = [...Object.values(p.getSnapshot().children)][0]?.sessionId ?? '';
    p.send({ type: 'off' });
    expect(seen).toEqual([
      `run@${one.sessionId}:  → a`,
      `run@${two.sessionId}:  → a`,
      `run@${one.sessionId}: a → b`,
      `run@${one.sessionId}: ended`,
      `run@${two.sessionId}: ended`,
      `worker@${child}:  → x`,
      `parent@${p.sessionId}:  → on`,
      `parent@${p.sessionId}: on → off`, // its microstep, before the exit stops the child
      `worker@${child}: ended`,
    ]);
  });
});
