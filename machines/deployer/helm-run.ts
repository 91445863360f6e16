// One run of the helm binary (spec §7.4), from spawn to exit:
//
//   alive          the process runs; its events come in as a stream (the `process` actor):
//     running        until it exits, the run's deadline passes, its reconcile is stopped (`helm.aborted`)
//                    or it prints too much (`helm.outputExceeded`): then SIGTERM;
//     terminating    SIGTERM was sent: helm install/upgrade turn it into a `failed` release; SIGKILL
//                    (which would leave the release `pending-*`) only after the grace period;
//     killing        SIGKILL was sent;
//   exited         final: how it ended (`helm.exited`) and why the agent stopped it, if it did.
//
// The deadline and the grace are the named delays `helmDeadline` and `helmGrace`
// (`helmRunDelays`, machines/deployer/timing.ts), read from the run's limits in context: numbers
// src/ gives as input (from the HelmRelease's timeoutSeconds for the long runs). However long the
// deadline, the actor's clock waits for it (src/clock.ts `actorClock`). Pure: the process stream and
// the signals are provided by src/deployer/helm.ts.

import { assertEvent, assign, fromEventObservable, setup } from 'xstate';
import { notProvided as notProvidedBy } from '../failure.ts';

/** How long a run may last: SIGTERM at the deadline, SIGKILL the grace period after it. */
export interface HelmRunLimits {
  readonly deadlineMs: number;
  readonly graceMs: number;
}

/** Why the agent sent SIGTERM: the deadline passed, the reconcile was stopped, or helm printed too much. */
export type HelmStopReason = 'deadline' | 'aborted' | 'output';

/** How the process ended, as its `close` saw it (serialisable: codes and messages only). */
export interface HelmExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** The process could not be started (or failed otherwise): its error's code and message. */
  readonly spawnError?: { readonly code: string | undefined; readonly message: string };
}

export type HelmRunEvent =
  /** The process exited and its output is drained. */
  | ({ readonly type: 'helm.exited' } & HelmExit)
  /** The run's reconcile was stopped (the leadership term ended, or the agent stops). */
  | { readonly type: 'helm.aborted' }
  /** stdout or stderr went past the limit (the rest is dropped). */
  | { readonly type: 'helm.outputExceeded' };

/** What the chart's output says: how helm ended, and why the agent stopped it (if it did). */
export interface HelmRunEnd {
  readonly stopped: HelmStopReason | undefined;
  /** The grace period ran out and SIGKILL was sent. */
  readonly killed: boolean;
  readonly exit: HelmExit;
}

export interface HelmRunContext {
  readonly limits: HelmRunLimits;
  readonly stopped: HelmStopReason | undefined;
  readonly killed: boolean;
  readonly exit: HelmExit | undefined;
}

const notProvided = notProvidedBy('helmRun');

const stopBecause = (why: HelmStopReason) =>
  ({ target: 'terminating', actions: { type: 'noteStop', params: { why } } }) as const;

export const helmRunMachine = setup({
  types: {
    context: {} as HelmRunContext,
    events: {} as HelmRunEvent,
    input: {} as HelmRunLimits,
    output: {} as HelmRunEnd,
  },
  actors: {
    /** The process's exit, output overflow and its reconcile's abort, as one stream. */
    process: fromEventObservable<HelmRunEvent, undefined>(notProvided('process')),
  },
  actions: {
    /** SIGTERM to the process. */
    terminate: notProvided('terminate'),
    /** SIGKILL to the process. */
    kill: notProvided('kill'),
    noteStop: assign((_, params: { readonly why: HelmStopReason }) => ({ stopped: params.why })),
    noteKilled: assign({ killed: true }),
    noteExit: assign({
      exit: ({ event }) => {
        assertEvent(event, 'helm.exited');
        const { code, signal, spawnError } = event;
        return { code, signal, ...(spawnError === undefined ? {} : { spawnError }) };
      },
    }),
    /** The process stream failed (a bug in src/): the run ends as if the process could not be run. */
    noteStreamFailure: assign((_, params: { readonly message: string }) => ({
      exit: { code: null, signal: null, spawnError: { code: undefined, message: params.message } },
    })),
  },
  delays: {
    /** SIGTERM after this long (context.limits.deadlineMs). */
    helmDeadline: notProvided('helmDeadline'),
    /** SIGKILL this long after SIGTERM (context.limits.graceMs). */
    helmGrace: notProvided('helmGrace'),
  },
}).createMachine({
  id: 'helmRun',
  initial: 'alive',
  context: ({ input }) => ({ limits: input, stopped: undefined, killed: false, exit: undefined }),
  states: {
    alive: {
      invoke: {
        id: 'process',
        src: 'process',
        onError: {
          target: 'exited',
          actions: { type: 'noteStreamFailure', params: ({ event }) => ({ message: String(event.error) }) },
        },
      },
      on: { 'helm.exited': { target: 'exited', actions: 'noteExit' } },
      initial: 'running',
      states: {
        running: {
          after: { helmDeadline: stopBecause('deadline') },
          on: { 'helm.aborted': stopBecause('aborted'), 'helm.outputExceeded': stopBecause('output') },
        },
        terminating: { entry: 'terminate', after: { helmGrace: 'killing' } },
        killing: { entry: ['kill', 'noteKilled'] },
      },
    },
    exited: { type: 'final' },
  },
  output: ({ context }) => ({
    stopped: context.stopped,
    killed: context.killed,
    exit: context.exit ?? { code: null, signal: null },
  }),
});
