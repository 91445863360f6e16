// The socket-connection lifecycle (spec §5): the websocket tunnel to the parent, opened with the
// dedicated token after registration, kept alive with pings, and reopened with a capped, jittered
// exponential backoff whenever it ends. A 401/403 on the handshake is emitted as `credentials.rejected`
// for the root machine to hand to registration.
//
// Pure: the session itself (websocket, stream relay) is the `session` actor provided from src/tunnel;
// it reports `tunnel.opened`, `tunnel.pong` and `tunnel.closed` and takes `tunnel.ping`. Secrets never
// enter the context or events.

import { assign, emit, fromCallback, sendTo, setup } from 'xstate';
import { notProvided as notProvidedBy } from '../failure.ts';
import { closeKind, socketUrl } from './decisions.ts';

export interface SocketInput {
  /** `--cluster-reg-parent-url`. */
  readonly parentUrl: string;
  /** The cluster ID registration settled on: the socket key (spec §5.2). */
  readonly clusterId: string;
  /** The child apiserver URL: the one dial target always allowed through the tunnel. */
  readonly childServer: string;
  /** The SocketConnection gate (default true): off, the machine stays `disabled` and dials nothing. */
  readonly enabled?: boolean;
}

export interface SocketContext {
  readonly enabled: boolean;
  readonly parentUrl: string;
  readonly clusterId: string;
  readonly childServer: string;
  /** The websocket URL (spec §5.1); no secret in it. */
  readonly url: string;
  /**
   * Consecutive failed attempts or sessions; drives the backoff. A session counts as failed until the
   * parent has answered a ping, so a parent that accepts and drops at once is not redialled every 200 ms.
   */
  readonly attempt: number;
  readonly lastFailure: string | undefined;
  /** Sessions opened so far. */
  readonly sessions: number;
  /**
   * This run of the machine (the root invokes it anew for each leadership term): the session actor
   * reads the dedicated credentials once per run (spec §5.1), not once per process.
   */
  readonly instance: string;
}

/** What the session actor is given. */
export interface SessionInput {
  /** SocketContext.instance. */
  readonly instance: string;
  readonly url: string;
  readonly parentUrl: string;
  readonly clusterId: string;
  readonly childServer: string;
}

export type SocketEvent =
  /** The handshake succeeded (HTTP 101). */
  | { readonly type: 'tunnel.opened' }
  /** A Pong (or Ping) came from the parent. */
  | { readonly type: 'tunnel.pong' }
  /** The relay stopped reading the websocket (a parent without Pause outran a stream): no Pong can be read. */
  | { readonly type: 'tunnel.held' }
  /** The relay reads the websocket again. */
  | { readonly type: 'tunnel.released' }
  /** The attempt or session ended; `status` is the handshake's HTTP status when it got that far. */
  | { readonly type: 'tunnel.closed'; readonly reason: string; readonly status?: number };

/** Sent to the session actor. */
export interface SessionCommand {
  readonly type: 'tunnel.ping';
}

/** Emitted for the root machine (xstate `emit`): maps to registration's `credentials.rejected`. */
export interface SocketEmitted {
  readonly type: 'credentials.rejected';
  readonly message: string;
}

const notProvided = notProvidedBy('socket');

const closedReason = ({ event }: { event: SocketEvent }): string =>
  event.type === 'tunnel.closed' ? event.reason : event.type;

export const socketMachine = setup({
  types: {
    context: {} as SocketContext,
    events: {} as SocketEvent,
    input: {} as SocketInput,
    emitted: {} as SocketEmitted,
  },
  actors: {
    /**
     * One websocket session: connects, relays streams, answers `tunnel.ping` with a Ping, and reports
     * `tunnel.opened` / `tunnel.pong` / `tunnel.closed` (exactly one, last). Stopping it closes the socket.
     */
    session: fromCallback<SessionCommand, SessionInput>(notProvided('session')),
  },
  delays: {
    /** Backoff before reconnecting (context.attempt ≥ 1). */
    retryDelay: notProvided('retryDelay'),
    /** Backoff after the parent refused the credentials. */
    rejectedDelay: notProvided('rejectedDelay'),
    pingInterval: notProvided('pingInterval'),
    /** No Pong (or Ping) for this long while open: the peer is gone. */
    deadPeerTimeout: notProvided('deadPeerTimeout'),
    /** The relay has held the reader this long: the session is given up, as the Go client's read deadline would. */
    readerHeldTimeout: notProvided('readerHeldTimeout'),
    /** No answer to the handshake for this long: give up the attempt. */
    handshakeTimeout: notProvided('handshakeTimeout'),
  },
  guards: {
    /** Failures are still counted: no Pong has come since the last one. */
    recovering: ({ context }) => context.attempt > 0,
    rejected: ({ event }) => event.type === 'tunnel.closed' && closeKind(event.status) === 'rejected',
  },
  actions: {
    /** Tells whoever runs the tunnel that the parent refused the dedicated credentials (by default: emits). */
    notifyCredentialsRejected: emit((_, message: string) => ({ type: 'credentials.rejected' as const, message })),
    recordFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      lastFailure: (_, reason: string) => reason,
    }),
    opened: assign({ lastFailure: undefined, sessions: ({ context }) => context.sessions + 1 }),
    /** A Pong came: the session works, the next failure backs off from the start again. */
    provedHealthy: assign({ attempt: 0 }),
  },
}).createMachine({
  id: 'socket',
  context: ({ input, self }) => ({
    enabled: input.enabled ?? true,
    parentUrl: input.parentUrl,
    clusterId: input.clusterId,
    childServer: input.childServer,
    url: socketUrl(input.parentUrl, input.clusterId),
    attempt: 0,
    lastFailure: undefined,
    sessions: 0,
    instance: self.sessionId,
  }),
  initial: 'starting',
  states: {
    starting: { always: [{ guard: ({ context }) => context.enabled, target: 'session' }, { target: 'disabled' }] },
    /** The SocketConnection gate is off: no tunnel (the Go agent does not open one either). */
    disabled: {},
    /** A websocket attempt and, once the handshake succeeds, the open session. */
    session: {
      initial: 'connecting',
      invoke: {
        id: 'session',
        src: 'session',
        input: ({ context }) => ({
          instance: context.instance,
          url: context.url,
          parentUrl: context.parentUrl,
          clusterId: context.clusterId,
          childServer: context.childServer,
        }),
        onError: {
          target: 'backingOff',
          actions: { type: 'recordFailure', params: ({ event }) => String(event.error) },
        },
      },
      on: {
        'tunnel.closed': [
          {
            guard: 'rejected',
            target: 'rejected',
            actions: [
              { type: 'recordFailure', params: closedReason },
              { type: 'notifyCredentialsRejected', params: closedReason },
            ],
          },
          { target: 'backingOff', actions: { type: 'recordFailure', params: closedReason } },
        ],
      },
      states: {
        connecting: {
          on: { 'tunnel.opened': 'open' },
          after: {
            handshakeTimeout: {
              target: '#socket.backingOff',
              actions: { type: 'recordFailure', params: 'handshake timed out' },
            },
          },
        },
        reconnecting: {
          on: { 'tunnel.opened': 'open' },
          after: {
            handshakeTimeout: {
              target: '#socket.backingOff',
              actions: { type: 'recordFailure', params: 'handshake timed out' },
            },
          },
        },
        /**
         * Pinging every pingInterval; any Pong (or Ping) from the parent restarts the dead-peer timer.
         * While the relay holds the reader no Pong can be read, so the dead-peer timer waits; the pings
         * go on (they keep the hub's read deadline moving).
         */
        open: {
          entry: 'opened',
          type: 'parallel',
          states: {
            pinging: {
              initial: 'waiting',
              states: {
                waiting: {
                  after: {
                    pingInterval: {
                      target: 'waiting',
                      reenter: true,
                      actions: sendTo('session', { type: 'tunnel.ping' } satisfies SessionCommand),
                    },
                  },
                },
              },
            },
            liveness: {
              initial: 'alive',
              states: {
                alive: {
                  on: {
                    'tunnel.pong': [
                      {
                        guard: 'recovering',
                        target: 'alive',
                        reenter: true,
                        actions: 'provedHealthy',
                      },
                      { target: 'alive', reenter: true },
                    ],
                    'tunnel.held': 'held',
                  },
                  after: {
                    deadPeerTimeout: {
                      target: '#socket.backingOff',
                      actions: { type: 'recordFailure', params: 'no pong from the parent' },
                    },
                  },
                },
                held: {
                  on: { 'tunnel.released': 'alive' },
                  after: {
                    readerHeldTimeout: {
                      target: '#socket.backingOff',
                      actions: { type: 'recordFailure', params: 'the tunnel reader was held too long' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    backingOff: { after: { retryDelay: 'session.reconnecting' } },
    /** The parent refused the credentials; `credentials.rejected` was emitted. Try again, slowly. */
    rejected: { after: { rejectedDelay: 'session.reconnecting' } },
  },
});
