import { describe, expect, it } from 'vitest';
import {
  dialingStream,
  inTable,
  isConnected,
  streamStep,
  type StreamEvent,
  type StreamLife,
  type StreamState,
} from '../../../src/tunnel/stream-state.ts';

const at = (life: StreamLife, more: Partial<StreamState> = {}): StreamState => ({ ...dialingStream, life, ...more });
const dialing = at({ phase: 'dialing' });
const open = at({ phase: 'open' });
const drainingDialing = at({ phase: 'draining', connected: false });
const draining = at({ phase: 'draining', connected: true });
const ended = at({ phase: 'ended' });
const closed = at({ phase: 'closed' });
const paused = at({ phase: 'open' }, { inbound: 'pauseSent' });
const holding = at({ phase: 'open' }, { inbound: 'holdingReader' });
const peerPaused = at({ phase: 'open' }, { outbound: 'pausedByPeer' });

describe('the stream transition (src/tunnel/stream-state.ts)', () => {
  it.each<[string, StreamState, StreamEvent, StreamState, readonly string[]]>([
    // life
    ['connected', dialing, { type: 'connected', outboundBlocked: false }, open, ['clearTimeout']],
    [
      'connected while the websocket is full: not read',
      dialing,
      { type: 'connected', outboundBlocked: true },
      open,
      ['clearTimeout', 'pauseSocket'],
    ],
    [
      'connected, paused by the parent meanwhile',
      at({ phase: 'dialing' }, { outbound: 'pausedByPeer' }),
      { type: 'connected', outboundBlocked: false },
      peerPaused,
      ['clearTimeout', 'pauseSocket'],
    ],
    [
      'connected after the parent closed it: drain bound',
      drainingDialing,
      { type: 'connected', outboundBlocked: false },
      draining,
      ['drainTimeout', 'pauseSocket'],
    ],
    ['connected after it was ended: nothing', ended, { type: 'connected', outboundBlocked: false }, ended, []],
    ['dial timeout', dialing, { type: 'timeout' }, dialing, ['failDial']],
    ['dial timeout of a stream the parent closed', drainingDialing, { type: 'timeout' }, drainingDialing, ['failDial']],
    ['drain bound passed', draining, { type: 'timeout' }, draining, ['destroy']],
    ['an open stream has no idle timer to honour', open, { type: 'timeout' }, open, []],
    [
      'the parent closes an open stream',
      open,
      { type: 'peerClosed' },
      draining,
      ['forget', 'trackDraining', 'pauseSocket', 'drainTimeout', 'destroySoon'],
    ],
    [
      'the parent closes a stream still dialing',
      dialing,
      { type: 'peerClosed' },
      drainingDialing,
      ['forget', 'trackDraining', 'pauseSocket', 'destroySoon'],
    ],
    ['the parent closes a stream twice', draining, { type: 'peerClosed' }, draining, []],
    ['too much buffered', open, { type: 'overflow' }, ended, ['forget', 'sendOverflowError', 'destroy']],
    [
      'the socket closes: its Error is owed',
      open,
      { type: 'socketClosed' },
      closed,
      ['uncount', 'forget', 'sendError'],
    ],
    ['the socket of a draining stream closes: nothing owed', draining, { type: 'socketClosed' }, closed, ['uncount']],
    ['the socket of an ended stream closes', ended, { type: 'socketClosed' }, closed, ['uncount']],
    [
      'the socket closes while holding the reader',
      holding,
      { type: 'socketClosed' },
      at({ phase: 'closed' }, { inbound: 'pauseSent' }),
      ['releaseReader', 'uncount', 'forget', 'sendError'],
    ],
    ['closed once only', closed, { type: 'socketClosed' }, closed, []],
    // target → parent
    ['Pause from the parent', open, { type: 'peerPause' }, peerPaused, ['pauseSocket']],
    ['Resume from the parent', peerPaused, { type: 'peerResume', outboundBlocked: false }, open, ['resumeSocket']],
    [
      'Resume while the websocket is full: stays unread',
      peerPaused,
      { type: 'peerResume', outboundBlocked: true },
      open,
      [],
    ],
    // parent → target
    ['pause', open, { type: 'pause' }, paused, ['sendPause']],
    ['pause twice', paused, { type: 'pause' }, paused, []],
    ['hold the reader', paused, { type: 'holdReader' }, holding, ['holdReader']],
    ['no hold without a Pause sent', open, { type: 'holdReader' }, open, []],
    ['hold once', holding, { type: 'holdReader' }, holding, []],
    ['release', holding, { type: 'releaseReader' }, paused, ['releaseReader']],
    ['release what is not held', paused, { type: 'releaseReader' }, paused, []],
    ['resume', paused, { type: 'resume' }, open, ['sendResume']],
    [
      'resume a stream holding the reader: released too',
      holding,
      { type: 'resume' },
      open,
      ['releaseReader', 'sendResume'],
    ],
    [
      'resume out of the table: nothing sent',
      at({ phase: 'draining', connected: true }, { inbound: 'pauseSent' }),
      { type: 'resume' },
      draining,
      [],
    ],
    ['resume what is not paused', open, { type: 'resume' }, open, []],
  ])('%s', (_, from, event, to, effects) => {
    const step = streamStep(from, event);
    expect(step.state).toEqual(to);
    expect(step.effects).toEqual(effects);
  });

  it.each<[StreamState, boolean, boolean]>([
    [dialing, true, false],
    [open, true, true],
    [drainingDialing, false, false],
    [draining, false, true],
    [ended, false, false],
    [closed, false, false],
  ])('%j: in the table %s, connected %s', (state, table, connected) => {
    expect(inTable(state)).toBe(table);
    expect(isConnected(state)).toBe(connected);
  });
});
