// One websocket session of the tunnel, as a pure transition function: what the session actor
// (src/tunnel/session.ts) does with each input of its stream (the credentials read, the websocket's
// open/message/ping/pong/close/error, the relay's hold and failure, the chart's `tunnel.ping`), and what
// it reports to the socket chart. The actor only carries out the effects this function names.
//
//   loadingCredentials ──credentials.ready──▶ connecting ──ws.open──▶ open
//          │                                     │                     │
//          └────── anything that ends it ────────┴─────────────────────┴──▶ ended (one tunnel.closed)
//
// Every report after `ended` is dropped: the chart hears exactly one `tunnel.closed`, last.

import type { SocketEvent } from './machine.ts';

export type SessionState =
  /** Reading the dedicated credentials (once per chart-chosen read, see SocketContext.credentialsRead). */
  | { readonly phase: 'loadingCredentials' }
  /** The websocket is dialled; the handshake is under way. */
  | { readonly phase: 'connecting' }
  /** Past the handshake (HTTP 101): the stream relay serves the parent. */
  | { readonly phase: 'open' }
  /** The attempt or session is over; `tunnel.closed` was reported. */
  | { readonly phase: 'ended' };

/** The session's inputs, one stream of them (src/tunnel/session.ts frames them from their sources). */
export type SessionSignal =
  | { readonly type: 'credentials.ready' }
  | { readonly type: 'credentials.unavailable'; readonly reason: string }
  /** The websocket could not even be created (a proxy it cannot use, say). */
  | { readonly type: 'ws.cannotOpen'; readonly reason: string }
  /** The handshake was answered with another status than 101. */
  | { readonly type: 'ws.response'; readonly status: number; readonly statusText: string }
  | { readonly type: 'ws.open' }
  | { readonly type: 'ws.message'; readonly data: Buffer; readonly isBinary: boolean }
  | { readonly type: 'ws.pong' }
  | { readonly type: 'ws.ping' }
  | { readonly type: 'ws.error'; readonly message: string; readonly code?: string | undefined }
  | { readonly type: 'ws.close'; readonly code: number; readonly reason: string }
  /** The relay stopped reading the websocket (flow control), or reads it again. */
  | { readonly type: 'relay.held' }
  | { readonly type: 'relay.released' }
  /** The relay ends the session: the parent sent something the protocol cannot recover from. */
  | { readonly type: 'relay.failed'; readonly reason: string }
  /** From the chart: send a Ping. */
  | { readonly type: 'tunnel.ping' };

export type SessionEffect =
  /** Create the websocket with the credentials read. */
  | 'dial'
  /** Start the stream relay on the open websocket. */
  | 'startRelay'
  /** Hand the message to the relay. */
  | 'relay'
  | 'ping'
  /** Close the relay (every stream's socket). */
  | 'closeRelay'
  /** Drop the websocket's connection at once. */
  | 'terminate';

export interface SessionStep {
  readonly state: SessionState;
  readonly effects: readonly SessionEffect[];
  /** For the socket chart, after the effects. */
  readonly report?: SocketEvent;
}

const loadingCredentials: SessionState = { phase: 'loadingCredentials' };
const connecting: SessionState = { phase: 'connecting' };
const open: SessionState = { phase: 'open' };
const ended: SessionState = { phase: 'ended' };

/** Where a session starts. */
export const initialSession: SessionState = loadingCredentials;

const none: readonly SessionEffect[] = [];
const unchanged = (state: SessionState): SessionStep => ({ state, effects: none });
// The hot path (every message of an open session) allocates nothing.
const relayMessage: SessionStep = { state: open, effects: ['relay'] };
const reportPong: SessionStep = { state: open, effects: none, report: { type: 'tunnel.pong' } };
const reportPinged: SessionStep = { state: open, effects: none, report: { type: 'tunnel.pinged' } };

/** The session ends: one `tunnel.closed`, after the effects. */
function end(reason: string, effects: readonly SessionEffect[], status?: number, code?: string): SessionStep {
  return {
    state: ended,
    effects,
    report: {
      type: 'tunnel.closed',
      reason,
      ...(status === undefined ? {} : { status }),
      ...(code === undefined ? {} : { code }),
    },
  };
}

/** What ends the session, in any phase but `ended`. */
function ending(signal: SessionSignal): SessionStep | undefined {
  switch (signal.type) {
    case 'credentials.unavailable':
      return end(`dedicated credentials unavailable: ${signal.reason}`, none);
    case 'ws.cannotOpen':
      return end(`cannot open the tunnel: ${signal.reason}`, ['terminate']);
    case 'ws.response':
      return end(`handshake: HTTP ${String(signal.status)} ${signal.statusText}`.trim(), ['closeRelay'], signal.status);
    case 'ws.error':
      return end(signal.message, ['closeRelay'], undefined, signal.code);
    case 'ws.close':
      return end(
        `closed by the parent (${String(signal.code)}${signal.reason.length > 0 ? `: ${signal.reason}` : ''})`,
        ['closeRelay'],
      );
    case 'relay.failed':
      return end(signal.reason, ['closeRelay', 'terminate']);
    default:
      return undefined;
  }
}

/** The session's transition function: pure, table-tested in test/unit/machines/socket-session.test.ts. */
export function sessionStep(state: SessionState, signal: SessionSignal): SessionStep {
  if (state.phase === 'ended') return unchanged(state);
  const ends = ending(signal);
  if (ends !== undefined) return ends;
  switch (signal.type) {
    case 'credentials.ready':
      return state.phase === 'loadingCredentials' ? { state: connecting, effects: ['dial'] } : unchanged(state);
    case 'ws.open':
      return state.phase === 'connecting'
        ? { state: open, effects: ['startRelay'], report: { type: 'tunnel.opened' } }
        : unchanged(state);
    case 'ws.message':
      return state.phase === 'open' ? relayMessage : unchanged(state);
    case 'ws.pong':
      return state.phase === 'open' ? reportPong : unchanged(state);
    // The parent is alive; whether it serves the tunnel, only a Pong to our ping says (the chart decides).
    case 'ws.ping':
      return state.phase === 'open' ? reportPinged : unchanged(state);
    case 'relay.held':
      return { state, effects: none, report: { type: 'tunnel.held' } };
    case 'relay.released':
      return { state, effects: none, report: { type: 'tunnel.released' } };
    case 'tunnel.ping':
      return state.phase === 'open' ? { state, effects: ['ping'] } : unchanged(state);
    default:
      return unchanged(state);
  }
}
