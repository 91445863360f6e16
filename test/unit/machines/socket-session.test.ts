import { describe, expect, it } from 'vitest';
import {
  initialSession,
  sessionStep,
  type SessionSignal,
  type SessionState,
} from '../../../machines/socket/session.ts';

const loading: SessionState = { phase: 'loadingCredentials' };
const connecting: SessionState = { phase: 'connecting' };
const open: SessionState = { phase: 'open' };
const ended: SessionState = { phase: 'ended' };
const message: SessionSignal = { type: 'ws.message', data: Buffer.from([1]), isBinary: true };

describe('the session transition (machines/socket/session.ts)', () => {
  it('starts by reading the credentials', () => {
    expect(initialSession).toEqual(loading);
  });

  it.each<[string, SessionState, SessionSignal, SessionState, readonly string[], unknown]>([
    // the way in
    ['credentials read: dial', loading, { type: 'credentials.ready' }, connecting, ['dial'], undefined],
    ['handshake done: relay, opened', connecting, { type: 'ws.open' }, open, ['startRelay'], { type: 'tunnel.opened' }],
    ['a message goes to the relay', open, message, open, ['relay'], undefined],
    ['a Pong is reported', open, { type: 'ws.pong' }, open, [], { type: 'tunnel.pong' }],
    ['a Ping from the parent is not a Pong', open, { type: 'ws.ping' }, open, [], { type: 'tunnel.pinged' }],
    ['the chart pings an open session', open, { type: 'tunnel.ping' }, open, ['ping'], undefined],
    ['reader held', open, { type: 'relay.held' }, open, [], { type: 'tunnel.held' }],
    ['reader released', open, { type: 'relay.released' }, open, [], { type: 'tunnel.released' }],
    // what is ignored
    ['no ping before the handshake', connecting, { type: 'tunnel.ping' }, connecting, [], undefined],
    ['no message before the handshake', connecting, message, connecting, [], undefined],
    ['a second credentials.ready', connecting, { type: 'credentials.ready' }, connecting, [], undefined],
    ['a second ws.open', open, { type: 'ws.open' }, open, [], undefined],
    ['after the end: no message', ended, message, ended, [], undefined],
    ['after the end: no second close', ended, { type: 'ws.close', code: 1006, reason: '' }, ended, [], undefined],
    ['after the end: no error', ended, { type: 'ws.error', message: 'x' }, ended, [], undefined],
    ['after the end: no held', ended, { type: 'relay.held' }, ended, [], undefined],
    ['after the end: no pong', ended, { type: 'ws.pong' }, ended, [], undefined],
    // the ways out: exactly one tunnel.closed
    [
      'credentials unreadable',
      loading,
      { type: 'credentials.unavailable', reason: 'no Secret' },
      ended,
      [],
      { type: 'tunnel.closed', reason: 'dedicated credentials unavailable: no Secret' },
    ],
    [
      'a websocket that cannot be created',
      connecting,
      { type: 'ws.cannotOpen', reason: 'bad proxy' },
      ended,
      ['terminate'],
      { type: 'tunnel.closed', reason: 'cannot open the tunnel: bad proxy' },
    ],
    [
      'the handshake answered 403',
      connecting,
      { type: 'ws.response', status: 403, statusText: 'Forbidden' },
      ended,
      ['closeRelay'],
      { type: 'tunnel.closed', reason: 'handshake: HTTP 403 Forbidden', status: 403 },
    ],
    [
      'the handshake answered without a status text',
      connecting,
      { type: 'ws.response', status: 500, statusText: '' },
      ended,
      ['closeRelay'],
      { type: 'tunnel.closed', reason: 'handshake: HTTP 500', status: 500 },
    ],
    [
      'a connection error, with its code',
      connecting,
      { type: 'ws.error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' },
      ended,
      ['closeRelay'],
      { type: 'tunnel.closed', reason: 'connect ECONNREFUSED', code: 'ECONNREFUSED' },
    ],
    [
      'an error without a code',
      open,
      { type: 'ws.error', message: 'Invalid frame' },
      ended,
      ['closeRelay'],
      { type: 'tunnel.closed', reason: 'Invalid frame' },
    ],
    [
      'the parent closes, with a reason',
      open,
      { type: 'ws.close', code: 1001, reason: 'going away' },
      ended,
      ['closeRelay'],
      { type: 'tunnel.closed', reason: 'closed by the parent (1001: going away)' },
    ],
    [
      'the parent closes, without a reason',
      open,
      { type: 'ws.close', code: 1006, reason: '' },
      ended,
      ['closeRelay'],
      { type: 'tunnel.closed', reason: 'closed by the parent (1006)' },
    ],
    [
      'the relay fails the session: the socket is dropped',
      open,
      { type: 'relay.failed', reason: 'text message from the parent' },
      ended,
      ['closeRelay', 'terminate'],
      { type: 'tunnel.closed', reason: 'text message from the parent' },
    ],
  ])('%s', (_, from, signal, to, effects, report) => {
    const step = sessionStep(from, signal);
    expect(step.state).toEqual(to);
    expect(step.effects).toEqual(effects);
    expect(step.report).toEqual(report);
  });

  it('a whole session: one opened, then exactly one closed, however many ends follow', () => {
    const signals: SessionSignal[] = [
      { type: 'credentials.ready' },
      { type: 'ws.open' },
      { type: 'ws.pong' },
      { type: 'ws.error', message: 'read ECONNRESET', code: 'ECONNRESET' },
      { type: 'ws.close', code: 1006, reason: '' },
      { type: 'relay.failed', reason: 'late' },
    ];
    let state = initialSession;
    const reports: string[] = [];
    for (const s of signals) {
      const step = sessionStep(state, s);
      state = step.state;
      if (step.report !== undefined) reports.push(step.report.type);
    }
    expect(reports).toEqual(['tunnel.opened', 'tunnel.pong', 'tunnel.closed']);
  });
});
