// The socket-connection lifecycle (spec §5): the websocket tunnel to the parent, opened with the
// dedicated token after registration, kept alive with pings, and reopened whenever it ends, after a wait
// that depends on how it failed (classifyEnd, machines/socket/decisions.ts; policies in timing.ts):
//
//   unreachable (refused, reset, DNS, timeout) ─▶ backingOff: 0.2–2 s, then every 0.9–1.2 s
//   error status (404, 500, …), dropped, TLS  ─▶ refused: 4 s doubling to 60 s
//   401                                        ─▶ rejected: credentials.rejected, 5 s doubling to 60 s
//   403                                        ─▶ recheckingCredentials: credentials.rejected; redial on
//                                                 credentials.confirmed (at once the first time)
//
// Only a Pong answering our Ping proves the parent healthy and starts the count over; a Ping from the
// parent only shows it is alive. The count is of failures of one kind in a row: a 403 after 500s is
// the first 403.
//
// Pure: the session itself (websocket, stream relay) is the `session` actor provided from src/tunnel;
// it reports `tunnel.opened`, `tunnel.pong`, `tunnel.pinged` and `tunnel.closed` and takes
// `tunnel.ping`. Secrets never enter the context or events.

import { assertEvent, assign, enqueueActions, fromCallback, sendTo, setup, type ErrorActorEvent } from 'xstate';
import { reportTo, type ChildReport } from '../events.ts';
import { notProvided as notProvidedBy } from '../failure.ts';
import {
  classifyEnd,
  failureResponse,
  socketUrl,
  type FailureResponse,
  type TunnelEnd,
  type TunnelFailureKind,
} from './decisions.ts';

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
   * Failed attempts or sessions in a row of the current failure kind; drives the waits. A session counts
   * as failed until the parent has answered one of our pings, so a parent that accepts and drops at once
   * is not redialled at once.
   */
  readonly attempt: number;
  /** Why the tunnel is down (or was, until a Pong proves the parent healthy); undefined when healthy. */
  readonly failure: TunnelFailureKind | undefined;
  readonly lastFailure: string | undefined;
  /** This session got past the handshake (HTTP 101). */
  readonly opened: boolean;
  /** A Pong answered one of our pings in this session. */
  readonly proved: boolean;
  /** A ping of ours is waiting for its Pong. */
  readonly pingOutstanding: boolean;
  /** Sessions opened so far. */
  readonly sessions: number;
  /**
   * This run of the machine (the root invokes it anew for each leadership term): the session actor
   * reads the dedicated credentials once per run (spec §5.1), not once per process.
   */
  readonly instance: string;
  /**
   * Which read of the dedicated credentials the sessions use: the session actor reads them once per
   * (instance, credentialsRead) and reuses them while this stays the same. A 401 or 403 on the
   * handshake invalidates them (`invalidateCredentials`): the next session reads them anew.
   */
  readonly credentialsRead: number;
}

/** What the session actor is given. */
export interface SessionInput {
  /** SocketContext.instance. */
  readonly instance: string;
  /** SocketContext.credentialsRead. */
  readonly credentialsRead: number;
  readonly url: string;
  readonly parentUrl: string;
  readonly clusterId: string;
  readonly childServer: string;
}

export type SocketEvent =
  /** The handshake succeeded (HTTP 101). */
  | { readonly type: 'tunnel.opened' }
  /** A Pong came from the parent: proof of health when it answers a ping of ours. */
  | { readonly type: 'tunnel.pong' }
  /** A Ping came from the parent: it is alive, which says nothing of whether it serves the tunnel. */
  | { readonly type: 'tunnel.pinged' }
  /** The relay stopped reading the websocket (a parent without Pause outran a stream): no Pong can be read. */
  | { readonly type: 'tunnel.held' }
  /** The relay reads the websocket again. */
  | { readonly type: 'tunnel.released' }
  /**
   * The attempt or session ended; `status` is the handshake's HTTP status when it got that far, `code`
   * the Node.js error code when an error ended it.
   */
  | { readonly type: 'tunnel.closed'; readonly reason: string; readonly status?: number; readonly code?: string }
  /** Registration checked the dedicated credentials and the parent accepts them (from the root machine). */
  | { readonly type: 'credentials.confirmed' };

/** Sent to the session actor. */
export interface SessionCommand {
  readonly type: 'tunnel.ping';
}

const notProvided = notProvidedBy('socket');

interface Args {
  readonly context: SocketContext;
  readonly event: SocketEvent | ErrorActorEvent;
}

/** How an attempt or session ended, from its `tunnel.closed`. */
const closedEnd = ({ context, event }: Args): TunnelEnd => {
  assertEvent(event, 'tunnel.closed');
  return { status: event.status, code: event.code, opened: context.opened, proved: context.proved };
};

const closedReason = ({ event }: Args): string => {
  assertEvent(event, 'tunnel.closed');
  return event.reason;
};

/** The session actor failed (a bug in it): how far the session got decides the kind. */
const actorErrorEnd = ({ context }: Args): TunnelEnd => ({ opened: context.opened, proved: context.proved });

const actorErrorReason = ({ event }: Args): string => ('error' in event ? String(event.error) : event.type);

/** The wait states of each response, by the way the tunnel failed. */
const waitState: Readonly<Record<FailureResponse, string>> = {
  retrySoon: '#socket.backingOff',
  backOff: '#socket.refused',
  rejected: '#socket.rejected',
  recheck: '#socket.recheckingCredentials',
};

/**
 * The transitions out of a failed attempt or session: the failure is recorded, then the chart waits as
 * failureResponse says for that kind (and asks registration to re-check on a 401 or 403).
 */
function failed(end: (a: Args) => TunnelEnd, reason: (a: Args) => string) {
  const record = {
    type: 'recordFailure',
    params: (a: Args) => ({ kind: classifyEnd(end(a)), reason: reason(a) }),
  } as const;
  const announce = {
    type: 'reportFailing',
    params: (a: Args) => ({ kind: classifyEnd(end(a)), message: reason(a) }),
  } as const;
  const notify = { type: 'notifyCredentialsRejected', params: reason } as const;
  const dropped = { type: 'reportDropped', params: announce.params } as const;
  return (['recheck', 'rejected', 'backOff', 'retrySoon'] as const).flatMap((response) => {
    const responds = { type: 'respondsWith', params: (a: Args) => ({ response, end: end(a) }) } as const;
    const respondsAnew = { type: 'respondsAnewWith', params: (a: Args) => ({ response, end: end(a) }) } as const;
    // The parent refused the credentials (401, 403): registration is told, the next session reads them anew.
    const tell = response === 'recheck' || response === 'rejected' ? [notify, 'invalidateCredentials' as const] : [];
    return [
      { guard: respondsAnew, target: waitState[response], actions: [announce, record, ...tell] },
      { guard: responds, target: waitState[response], actions: [dropped, record, ...tell] },
    ];
  });
}

/** A timer ended the attempt or session: how far it got decides the kind. */
const timedOut = (a: Args): TunnelEnd => ({ opened: a.context.opened, proved: a.context.proved, timedOut: true });

/**
 * The redial loop's states: moving among them is logged at debug. The tunnel component says each new
 * kind of failure (warn) and the recovery (info) itself; the transitions into and out of an open
 * session are logged at info.
 */
export const routineSocketStates: readonly string[] = [
  'session.connecting',
  'session.reconnecting',
  'backingOff',
  'refused',
  'rejected',
];

export const socketMachine = setup({
  types: {
    context: {} as SocketContext,
    events: {} as SocketEvent,
    input: {} as SocketInput,
  },
  actors: {
    /**
     * One websocket session: connects, relays streams, answers `tunnel.ping` with a Ping, and reports
     * `tunnel.opened` / `tunnel.pong` / `tunnel.pinged` / `tunnel.closed` (exactly one, last). Stopping it
     * closes the socket.
     */
    session: fromCallback<SessionCommand, SessionInput>(notProvided('session')),
  },
  delays: {
    /** Before redialling a parent that was unreachable (timing.ts unreachableDelay). */
    unreachableRetry: notProvided('unreachableRetry'),
    /** Before redialling a live parent that refused the handshake or dropped the session (refusedDelay). */
    refusedRetry: notProvided('refusedRetry'),
    /** Before redialling after a 401 (rejectedDelay). */
    rejectedRetry: notProvided('rejectedRetry'),
    /** After registration confirmed the credentials, before redialling after repeated 403s (recheckedDelay). */
    recheckedRetry: notProvided('recheckedRetry'),
    /** After a 403 with no confirmation from registration: redial anyway (recheckFallbackDelay). */
    recheckFallback: notProvided('recheckFallback'),
    pingInterval: notProvided('pingInterval'),
    /** No Pong (or Ping) for this long while open: the peer is gone. */
    deadPeerTimeout: notProvided('deadPeerTimeout'),
    /** The relay has held the reader this long: the session is given up, as the Go client's read deadline would. */
    readerHeldTimeout: notProvided('readerHeldTimeout'),
    /** No answer to the handshake for this long: give up the attempt. */
    handshakeTimeout: notProvided('handshakeTimeout'),
  },
  guards: {
    /** How the chart responds to the way this attempt or session ended (failureResponse). */
    respondsWith: (_, p: { readonly response: FailureResponse; readonly end: TunnelEnd }) =>
      failureResponse(classifyEnd(p.end)) === p.response,
    /** A Pong that answers a ping of ours (not an unsolicited one). */
    answersOurPing: ({ context }) => context.pingOutstanding,
    /** As respondsWith, and the tunnel fails in another way than before (or for the first time since it was healthy). */
    respondsAnewWith: ({ context }, p: { readonly response: FailureResponse; readonly end: TunnelEnd }) =>
      failureResponse(classifyEnd(p.end)) === p.response && classifyEnd(p.end) !== context.failure,
    /** As answersOurPing, after failures: the tunnel works again. */
    answersOurPingAfterFailures: ({ context }) => context.pingOutstanding && context.failure !== undefined,
    /** The first 403 in a row: redial as soon as registration confirms. */
    firstRecheck: ({ context }) => context.attempt <= 1,
  },
  actions: {
    /** Tells the root the parent refused the dedicated credentials: it has registration re-check them. */
    notifyCredentialsRejected: sendTo(reportTo, (_, message: string): ChildReport => ({
      type: 'credentials.rejected',
      component: 'socket',
      message,
    })),
    /** The tunnel fails in a new way: said once, not on every retry (the agent logs it and /readyz shows it). */
    reportFailing: sendTo(
      reportTo,
      (_, p: { readonly kind: TunnelFailureKind; readonly message: string }): ChildReport => ({
        type: 'tunnel.disconnected',
        ...p,
      }),
    ),
    /** An open session ended the same way as the failure before it: the tunnel is down again. */
    reportDropped: enqueueActions(
      ({ context, self, enqueue }, p: { readonly kind: TunnelFailureKind; readonly message: string }) => {
        if (context.opened)
          enqueue.sendTo(reportTo({ self }), { type: 'tunnel.disconnected', ...p } satisfies ChildReport);
      },
    ),
    /** A session is open. */
    reportConnected: sendTo(reportTo, { type: 'tunnel.connected' } satisfies ChildReport),
    /** The tunnel works again after failures. */
    reportRecovered: sendTo(reportTo, { type: 'tunnel.recovered' } satisfies ChildReport),
    /** Counts the failure in its kind's run: a new kind starts a new count. */
    recordFailure: assign(({ context }, p: { readonly kind: TunnelFailureKind; readonly reason: string }) => ({
      failure: p.kind,
      attempt: p.kind === context.failure ? context.attempt + 1 : 1,
      lastFailure: p.reason,
    })),
    /** The credentials in use were refused (401, 403): the next session reads them anew. */
    invalidateCredentials: assign({ credentialsRead: ({ context }) => context.credentialsRead + 1 }),
    attemptStarted: assign({ opened: false, proved: false, pingOutstanding: false }),
    opened: assign({ opened: true, lastFailure: undefined, sessions: ({ context }) => context.sessions + 1 }),
    ping: enqueueActions(({ enqueue }) => {
      enqueue.assign({ pingOutstanding: true });
      enqueue.sendTo('session', { type: 'tunnel.ping' } satisfies SessionCommand);
    }),
    /** A Pong answered our ping: the session works, the next failure starts a new count. */
    provedHealthy: assign({ attempt: 0, failure: undefined, proved: true, pingOutstanding: false }),
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
    failure: undefined,
    lastFailure: undefined,
    opened: false,
    proved: false,
    pingOutstanding: false,
    sessions: 0,
    instance: self.sessionId,
    credentialsRead: 1,
  }),
  initial: 'starting',
  states: {
    starting: { always: [{ guard: ({ context }) => context.enabled, target: 'session' }, { target: 'disabled' }] },
    /** The SocketConnection gate is off: no tunnel (the Go agent does not open one either). */
    disabled: {},
    /** A websocket attempt and, once the handshake succeeds, the open session. */
    session: {
      initial: 'connecting',
      entry: 'attemptStarted',
      invoke: {
        id: 'session',
        src: 'session',
        input: ({ context }) => ({
          instance: context.instance,
          credentialsRead: context.credentialsRead,
          url: context.url,
          parentUrl: context.parentUrl,
          clusterId: context.clusterId,
          childServer: context.childServer,
        }),
        onError: failed(actorErrorEnd, actorErrorReason),
      },
      on: { 'tunnel.closed': failed(closedEnd, closedReason) },
      states: {
        connecting: {
          on: { 'tunnel.opened': 'open' },
          after: { handshakeTimeout: failed(timedOut, () => 'handshake timed out') },
        },
        reconnecting: {
          on: { 'tunnel.opened': 'open' },
          after: { handshakeTimeout: failed(timedOut, () => 'handshake timed out') },
        },
        /**
         * Pinging every pingInterval; a Pong or a Ping from the parent restarts the dead-peer timer, and
         * only a Pong answering our ping proves the session healthy. While the relay holds the reader no
         * Pong can be read, so the dead-peer timer waits; the pings go on (they keep the hub's read
         * deadline moving).
         */
        open: {
          entry: ['opened', 'reportConnected'],
          type: 'parallel',
          states: {
            pinging: {
              initial: 'waiting',
              states: {
                waiting: {
                  after: { pingInterval: { target: 'waiting', reenter: true, actions: 'ping' } },
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
                        guard: 'answersOurPingAfterFailures',
                        target: 'alive',
                        reenter: true,
                        actions: ['reportRecovered', 'provedHealthy'],
                      },
                      { guard: 'answersOurPing', target: 'alive', reenter: true, actions: 'provedHealthy' },
                      { target: 'alive', reenter: true },
                    ],
                    'tunnel.pinged': { target: 'alive', reenter: true },
                    'tunnel.held': 'held',
                  },
                  after: {
                    deadPeerTimeout: failed(
                      ({ context }) => ({ opened: true, proved: context.proved }),
                      () => 'no pong from the parent',
                    ),
                  },
                },
                held: {
                  on: { 'tunnel.released': 'alive' },
                  after: {
                    readerHeldTimeout: failed(
                      ({ context }) => ({ opened: true, proved: context.proved }),
                      () => 'the tunnel reader was held too long',
                    ),
                  },
                },
              },
            },
          },
        },
      },
    },
    /** The parent was unreachable: redial soon. */
    backingOff: { after: { unreachableRetry: 'session.reconnecting' } },
    /** A live parent refused the handshake (an error status), dropped the session, or TLS failed. */
    refused: { after: { refusedRetry: 'session.reconnecting' } },
    /** The parent rejected the token (401); `credentials.rejected` was sent. Try again, slowly. */
    rejected: { after: { rejectedRetry: 'session.reconnecting' } },
    /**
     * A 403 on the handshake; `credentials.rejected` was sent, so registration re-checks the credentials.
     * Once it confirms them the tunnel is redialled: at once after the first 403 in a row (a hub still
     * starting), later after a growing pause (a parent whose RBAC refuses the tunnel for good).
     */
    recheckingCredentials: {
      initial: 'awaitingConfirmation',
      after: { recheckFallback: 'session.reconnecting' },
      states: {
        awaitingConfirmation: {
          on: {
            'credentials.confirmed': [
              { guard: 'firstRecheck', target: '#socket.session.reconnecting' },
              { target: 'confirmed' },
            ],
          },
        },
        confirmed: { after: { recheckedRetry: '#socket.session.reconnecting' } },
      },
    },
  },
});
