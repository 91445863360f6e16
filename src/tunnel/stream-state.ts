// The state of one relayed stream (spec §5.5), as a pure transition function: where the stream is in
// its life, whether the parent is asked to pause it, whether the parent paused it. The relay
// (stream-relay.ts) keeps one per stream, feeds it what happens, and carries out the effects named here;
// the byte counts and the decisions on them are flow-control.ts. Table-tested in
// test/unit/tunnel/stream-state.test.ts.
//
//   dialing ──connected──▶ open
//      │                    │
//      ├──peer Error────────┴──▶ draining (the parent closed it; its last bytes are written out)
//      ├──overflow──────────────▶ ended (the agent ended it with an Error; its socket is destroyed)
//      └──socket closed (any)───▶ closed (nothing of it counts any more)

export type StreamLife =
  /** In the table; the target is being dialled (Node buffers what the parent sends meanwhile). */
  | { readonly phase: 'dialing' }
  /** In the table, connected. */
  | { readonly phase: 'open' }
  /** The parent closed it (Error from the parent): out of the table, writing out what it sent before. */
  | { readonly phase: 'draining'; readonly connected: boolean }
  /** The agent ended it (too much buffered) and sent its Error: out of the table, socket destroyed. */
  | { readonly phase: 'ended' }
  /** Its socket closed: out of the table, nothing owed, nothing counted. */
  | { readonly phase: 'closed' };

/** Parent → target: whether the parent is asked to pause the stream (Pause sent), and the reader held for it. */
export type InboundPause = 'flowing' | 'pauseSent' | 'holdingReader';

/** Target → parent: whether the parent paused the stream (Pause from the parent). */
export type OutboundPause = 'reading' | 'pausedByPeer';

export interface StreamState {
  readonly life: StreamLife;
  readonly inbound: InboundPause;
  readonly outbound: OutboundPause;
}

export type StreamEvent =
  /** The dial succeeded; `outboundBlocked`: the websocket has too much unsent (no socket is read). */
  | { readonly type: 'connected'; readonly outboundBlocked: boolean }
  /** The socket's idle timer fired (the dial timeout, or the drain bound). */
  | { readonly type: 'timeout' }
  /** Error(c) from the parent. */
  | { readonly type: 'peerClosed' }
  /** Data that would pass a buffer limit. */
  | { readonly type: 'overflow' }
  /** The socket closed. */
  | { readonly type: 'socketClosed' }
  | { readonly type: 'peerPause' }
  | { readonly type: 'peerResume'; readonly outboundBlocked: boolean }
  /** Flow control: ask the parent to pause the stream / hold the reader for it / release / resume it. */
  | { readonly type: 'pause' }
  | { readonly type: 'holdReader' }
  | { readonly type: 'releaseReader' }
  | { readonly type: 'resume' };

export type StreamEffect =
  /** Leave the relay's table (the connID may be reused by the parent). */
  | 'forget'
  /** Keep the socket tracked until it closes, so the session's end closes it too. */
  | 'trackDraining'
  | 'pauseSocket'
  | 'resumeSocket'
  /** The socket's idle timer: none (a live stream), or the drain bound (closingIdleMs). */
  | 'clearTimeout'
  | 'drainTimeout'
  /** Destroy the socket: as a dial timeout (`i/o timeout`), or plainly. */
  | 'failDial'
  | 'destroy'
  /** Write out what is buffered, then close. */
  | 'destroySoon'
  /** Error(c) to the parent: the socket's failure (or EOF), or "too much data buffered". */
  | 'sendError'
  | 'sendOverflowError'
  | 'sendPause'
  | 'sendResume'
  /** Take back / give up the stream's hold on the websocket reader. */
  | 'holdReader'
  | 'releaseReader'
  /** Nothing of it counts any more: its charged bytes are given back. */
  | 'uncount';

export interface StreamStep {
  readonly state: StreamState;
  readonly effects: readonly StreamEffect[];
}

/** A stream as a Connect creates it. */
export const dialingStream: StreamState = { life: { phase: 'dialing' }, inbound: 'flowing', outbound: 'reading' };

const none: readonly StreamEffect[] = [];
const same = (state: StreamState): StreamStep => ({ state, effects: none });
const life = (state: StreamState, l: StreamLife, effects: readonly StreamEffect[]): StreamStep => ({
  state: { ...state, life: l },
  effects,
});

/** In the relay's table: the parent may still send for it, and an Error is owed when it ends. */
export function inTable(state: StreamState): boolean {
  return state.life.phase === 'dialing' || state.life.phase === 'open';
}

/** The socket is connected (or was when it closed draining). */
export function isConnected(state: StreamState): boolean {
  const l = state.life;
  return l.phase === 'open' || (l.phase === 'draining' && l.connected);
}

/** The dial succeeded. */
function onConnected(state: StreamState, outboundBlocked: boolean): StreamStep {
  const l = state.life;
  if (l.phase === 'dialing') {
    const paused = outboundBlocked || state.outbound === 'pausedByPeer';
    return life(state, { phase: 'open' }, paused ? ['clearTimeout', 'pauseSocket'] : ['clearTimeout']);
  }
  // Nobody wants what the target still sends; its last bytes get the drain bound.
  if (l.phase === 'draining')
    return life(state, { phase: 'draining', connected: true }, ['drainTimeout', 'pauseSocket']);
  return same(state);
}

/** The socket's idle timer: a dial that takes too long fails; a stream out of the table is dropped. */
function onTimeout(state: StreamState): StreamStep {
  const l = state.life;
  if (l.phase === 'dialing' || (l.phase === 'draining' && !l.connected)) return { state, effects: ['failDial'] };
  return l.phase === 'draining' || l.phase === 'ended' ? { state, effects: ['destroy'] } : same(state);
}

function lifeStep(state: StreamState, event: StreamEvent): StreamStep | undefined {
  const l = state.life;
  switch (event.type) {
    case 'connected':
      return onConnected(state, event.outboundBlocked);
    case 'timeout':
      return onTimeout(state);
    case 'peerClosed': {
      if (!inTable(state)) return same(state);
      const connected = l.phase === 'open';
      const effects: StreamEffect[] = ['forget', 'trackDraining', 'pauseSocket'];
      if (connected) effects.push('drainTimeout');
      effects.push('destroySoon');
      return life(state, { phase: 'draining', connected }, effects);
    }
    case 'overflow':
      return inTable(state) ? life(state, { phase: 'ended' }, ['forget', 'sendOverflowError', 'destroy']) : same(state);
    case 'socketClosed': {
      if (l.phase === 'closed') return same(state);
      const effects: StreamEffect[] = state.inbound === 'holdingReader' ? ['releaseReader', 'uncount'] : ['uncount'];
      if (inTable(state)) effects.push('forget', 'sendError');
      return {
        state: {
          life: { phase: 'closed' },
          inbound: state.inbound === 'holdingReader' ? 'pauseSent' : state.inbound,
          outbound: state.outbound,
        },
        effects,
      };
    }
    default:
      return undefined;
  }
}

/** The stream's transition function. */
export function streamStep(state: StreamState, event: StreamEvent): StreamStep {
  const byLife = lifeStep(state, event);
  if (byLife !== undefined) return byLife;
  switch (event.type) {
    case 'peerPause':
      return { state: { ...state, outbound: 'pausedByPeer' }, effects: ['pauseSocket'] };
    case 'peerResume':
      return {
        state: { ...state, outbound: 'reading' },
        effects: event.outboundBlocked ? none : ['resumeSocket'],
      };
    case 'pause':
      return state.inbound === 'flowing'
        ? { state: { ...state, inbound: 'pauseSent' }, effects: ['sendPause'] }
        : same(state);
    case 'holdReader':
      return state.inbound === 'pauseSent' && state.life.phase !== 'closed'
        ? { state: { ...state, inbound: 'holdingReader' }, effects: ['holdReader'] }
        : same(state);
    case 'releaseReader':
      return state.inbound === 'holdingReader'
        ? { state: { ...state, inbound: 'pauseSent' }, effects: ['releaseReader'] }
        : same(state);
    case 'resume': {
      if (state.inbound === 'flowing') return same(state);
      const effects: StreamEffect[] = state.inbound === 'holdingReader' ? ['releaseReader'] : [];
      if (inTable(state)) effects.push('sendResume');
      return { state: { ...state, inbound: 'flowing' }, effects };
    }
    default:
      return same(state);
  }
}
