// The built-in predictor's lifecycle (spec predictor §1; gate Predictor without --predictor-addr).
// Invoked by the root while it leads and is registered, so only the leader serves it, and stopping
// this machine closes the listener: the next term binds again.
//
//   disabled                     the gate is off or an external predictor is published: nothing runs
//   running (parallel)
//     caches   watching ⇄ backingOff   lists and watches the child's nodes and pods into the reduced
//                                      caches; a watch that ends normally resumes at once, a failed
//                                      one after watchRetryDelay. The caches stay as they were in between.
//     server   waitingForCaches → listening ⇄ listenBackingOff   listens only once both caches are
//                                      complete (as Go waits for its informers: earlier connections are
//                                      refused), then serves from them until the machine stops; a
//                                      listener that fails is retried after listenRetryDelay.
//
// Pure: effects are provided from src/ (or by tests) with `.provide()`.

import { assign, fromCallback, fromEventObservable, setup } from 'xstate';
import { resumesAtOnce, type WatchEndKind } from '../watch.ts';
import { notProvided as notProvidedBy } from '../failure.ts';

export interface PredictorInput {
  /** Whether this agent serves the built-in predictor. */
  readonly serve: boolean;
}

export interface PredictorContext {
  readonly serve: boolean;
  /** Consecutive failed watches; drives their backoff. */
  readonly watchAttempt: number;
  readonly lastFailure: string | undefined;
}

export type PredictorEvent =
  /** Both caches are complete (after their lists). */
  | { readonly type: 'caches.synced' }
  /** A watch ended: `ended` (idle) and `expired` (410) resume at once, `failed` backs off (machines/watch.ts). */
  | { readonly type: 'caches.watchEnded'; readonly kind: WatchEndKind; readonly message: string }
  /** The listener could not be opened (the port is taken). */
  | { readonly type: 'server.listenFailed'; readonly message: string };

const notProvided = notProvidedBy('predictor');

export const predictorMachine = setup({
  types: {
    context: {} as PredictorContext,
    events: {} as PredictorEvent,
    input: {} as PredictorInput,
  },
  actors: {
    /** Lists (when needed) and watches nodes and pods; sends caches.synced / caches.watchEnded. */
    watchCaches: fromEventObservable<PredictorEvent, undefined>(notProvided('watchCaches')),
    /** Listens on the predictor's address and serves from the caches until stopped. */
    serve: fromCallback<PredictorEvent>(notProvided('serve')),
  },
  delays: {
    /** Backoff before the next watch after a failed one (context.watchAttempt). */
    watchRetryDelay: notProvided('watchRetryDelay'),
    /** Before listening again after the listener failed. */
    listenRetryDelay: notProvided('listenRetryDelay'),
  },
  actions: {
    /** Says why the predictor could not listen (context.lastFailure). */
    warnListenFailed: notProvided('warnListenFailed'),
  },
  guards: {
    serve: ({ context }) => context.serve,
    watchExpired: ({ event }) => event.type === 'caches.watchEnded' && resumesAtOnce(event.kind),
  },
}).createMachine({
  id: 'predictor',
  context: ({ input }) => ({ serve: input.serve, watchAttempt: 0, lastFailure: undefined }),
  initial: 'deciding',
  states: {
    deciding: {
      always: [{ guard: 'serve', target: 'running' }, { target: 'disabled' }],
    },
    disabled: {},
    running: {
      type: 'parallel',
      states: {
        caches: {
          initial: 'watching',
          states: {
            watching: {
              invoke: {
                id: 'watchCaches',
                src: 'watchCaches',
                onError: {
                  target: 'backingOff',
                  actions: assign({
                    watchAttempt: ({ context }) => context.watchAttempt + 1,
                    lastFailure: ({ event }) => String(event.error),
                  }),
                },
              },
              on: {
                'caches.synced': { actions: assign({ watchAttempt: 0 }) },
                'caches.watchEnded': [
                  { guard: 'watchExpired', target: 'watching', reenter: true },
                  {
                    target: 'backingOff',
                    actions: assign({
                      watchAttempt: ({ context }) => context.watchAttempt + 1,
                      lastFailure: ({ event }) => event.message,
                    }),
                  },
                ],
              },
            },
            backingOff: { after: { watchRetryDelay: 'watching' } },
          },
        },
        server: {
          initial: 'waitingForCaches',
          states: {
            waitingForCaches: { on: { 'caches.synced': 'listening' } },
            listening: {
              invoke: {
                id: 'serve',
                src: 'serve',
                // The port is taken (by another process, or a listener of the last term still closing):
                // said, and tried again; the Go agent exits instead.
                onError: {
                  target: 'listenBackingOff',
                  actions: assign({ lastFailure: ({ event }) => String(event.error) }),
                },
              },
              on: {
                'server.listenFailed': {
                  target: 'listenBackingOff',
                  actions: assign({ lastFailure: ({ event }) => event.message }),
                },
              },
            },
            listenBackingOff: { entry: 'warnListenFailed', after: { listenRetryDelay: 'listening' } },
          },
        },
      },
    },
  },
});
