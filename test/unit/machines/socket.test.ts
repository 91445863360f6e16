import { createActor, fromCallback, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { nextDelay } from '../../../machines/backoff.ts';
import {
  closeKind,
  deadPeerTimeoutMs,
  handshakeTimeoutMs,
  pingIntervalMs,
  readerHeldTimeoutMs,
  reconnectPolicy,
  rejectedPolicy,
  socketUrl,
} from '../../../machines/socket/decisions.ts';
import {
  socketMachine,
  type SessionCommand,
  type SessionInput,
  type SocketEvent,
} from '../../../machines/socket/machine.ts';
import { transitionRecorder } from '../../../src/logging/transitions.ts';

const clusterId = '11111111-2222-3333-4444-555555555555';

/** A fake session per attempt: the test drives it through `current()`. */
interface FakeSession {
  readonly input: SessionInput;
  readonly pings: number[];
  stopped: boolean;
  send: (e: SocketEvent) => void;
}

/** How long (ms, in 100 ms steps) the machine waited before each of the next `n` sessions. */
function waitsBetweenSessions(r: { readonly sessions: readonly unknown[]; advance: (ms: number) => void }, n: number) {
  const waits: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = r.sessions.length;
    let waited = 0;
    while (r.sessions.length === before) {
      if (waited >= 60_000) throw new Error(`no session ${String(i + 1)} within 60 s`);
      r.advance(100);
      waited += 100;
    }
    waits.push(waited);
  }
  return waits;
}

function start(
  onStart: (s: FakeSession) => void = (s) => {
    s.send({ type: 'tunnel.opened' });
  },
  enabled = true,
) {
  const clock = new SimulatedClock();
  const sessions: FakeSession[] = [];
  const machine = socketMachine.provide({
    actors: {
      session: fromCallback<SessionCommand, SessionInput>(({ input, sendBack, receive }) => {
        const s: FakeSession = { input, pings: [], stopped: false, send: sendBack };
        sessions.push(s);
        receive((cmd) => {
          expect(cmd.type).toBe('tunnel.ping');
          s.pings.push(clock.now());
        });
        onStart(s);
        return () => {
          s.stopped = true;
        };
      }),
    },
    delays: {
      retryDelay: ({ context }) => nextDelay(context.attempt, reconnectPolicy, () => 0),
      rejectedDelay: ({ context }) => nextDelay(context.attempt, rejectedPolicy, () => 0),
      pingInterval: pingIntervalMs,
      deadPeerTimeout: deadPeerTimeoutMs,
      readerHeldTimeout: readerHeldTimeoutMs,
      handshakeTimeout: handshakeTimeoutMs,
    },
  });
  const trace: string[] = [];
  const emitted: string[] = [];
  const actor = createActor(machine, {
    input: { parentUrl: 'https://parent.example:6443/base/', clusterId, childServer: 'https://child:6443', enabled },
    clock,
    inspect: transitionRecorder((t) => {
      if (t.machine === 'socket') trace.push(t.to);
    }),
  });
  actor.on('credentials.rejected', (e) => emitted.push(e.message));
  actor.start();
  const advance = (ms: number): void => {
    clock.increment(ms);
  };
  const current = (): FakeSession => {
    const s = sessions.at(-1);
    if (s === undefined) throw new Error('no session');
    return s;
  };
  return { actor, clock, sessions, trace, emitted, advance, current, context: () => actor.getSnapshot().context };
}

const open = 'session.open.pinging.waiting,liveness.alive';

describe('socket statechart without the SocketConnection gate', () => {
  it('stays disabled and never dials', () => {
    const t = start(undefined, false);
    t.advance(60_000);
    expect(t.trace).toEqual(['disabled']);
    expect(t.sessions).toEqual([]);
  });
});

describe('socket decisions', () => {
  it.each([
    ['https://p:6443', 'wss://p:6443/apis/proxies.clusternet.io/v1alpha1/sockets/ID'],
    ['https://p:6443/', 'wss://p:6443/apis/proxies.clusternet.io/v1alpha1/sockets/ID'],
    ['https://p/base/', 'wss://p/base/apis/proxies.clusternet.io/v1alpha1/sockets/ID'],
    ['http://10.0.0.1:8080/a/b', 'ws://10.0.0.1:8080/a/b/apis/proxies.clusternet.io/v1alpha1/sockets/ID'],
  ])('socketUrl(%s)', (parent, want) => {
    expect(socketUrl(parent, 'ID')).toBe(want);
  });

  it('socketUrl refuses a non-http parent URL', () => {
    expect(() => socketUrl('ftp://p', 'ID')).toThrow(/scheme/);
  });

  it.each([
    [401, 'rejected'],
    [403, 'rejected'],
    [503, 'retry'],
    [400, 'retry'],
    [undefined, 'retry'],
  ])('closeKind(%s) = %s', (status, kind) => {
    expect(closeKind(status)).toBe(kind);
  });

  it('reconnect backoff doubles from 200 ms and never exceeds 1.5 s, whatever the jitter', () => {
    expect([1, 2, 3, 4, 5, 20].map((a) => nextDelay(a, reconnectPolicy, () => 0))).toEqual([
      200, 400, 800, 1500, 1500, 1500,
    ]);
    for (const r of [0, 0.5, 0.999]) expect(nextDelay(50, reconnectPolicy, () => r)).toBeLessThanOrEqual(1500);
    expect(nextDelay(50, reconnectPolicy, () => 0.999)).toBeGreaterThanOrEqual(1050);
  });
});

describe('socket statechart', () => {
  it('connects to the sockets URL, opens, pings every 5 s and stays open while pongs come', () => {
    const r = start();
    expect(r.current().input).toEqual({
      instance: r.actor.sessionId,
      url: `wss://parent.example:6443/base/apis/proxies.clusternet.io/v1alpha1/sockets/${clusterId}`,
      parentUrl: 'https://parent.example:6443/base/',
      clusterId,
      childServer: 'https://child:6443',
    });
    expect(r.trace).toEqual(['session.connecting', open]);
    for (let i = 0; i < 12; i++) {
      r.advance(pingIntervalMs);
      r.current().send({ type: 'tunnel.pong' });
    }
    expect(r.current().pings).toEqual(Array.from({ length: 12 }, (_, i) => (i + 1) * pingIntervalMs));
    expect(r.trace).toEqual(['session.connecting', open]);
    expect(r.context()).toMatchObject({ attempt: 0, sessions: 1 });
    expect(r.sessions).toHaveLength(1);
  });

  it('drops a silent peer after 15 s without a pong, backs off 200 ms and reconnects', () => {
    const r = start();
    r.advance(deadPeerTimeoutMs - 1);
    expect(r.trace.at(-1)).toBe(open);
    r.advance(1);
    expect(r.trace).toEqual(['session.connecting', open, 'backingOff']);
    expect(r.sessions[0]?.stopped).toBe(true);
    expect(r.context()).toMatchObject({ attempt: 1, lastFailure: 'no pong from the parent' });
    r.advance(199);
    expect(r.sessions).toHaveLength(1);
    r.advance(1);
    expect(r.trace).toEqual(['session.connecting', open, 'backingOff', 'session.reconnecting', open]);
    expect(r.sessions).toHaveLength(2);
    expect(r.context()).toMatchObject({ attempt: 1, lastFailure: undefined, sessions: 2 });
    r.current().send({ type: 'tunnel.pong' }); // healthy: the next failure backs off from 200 ms again
    expect(r.context()).toMatchObject({ attempt: 0, sessions: 2 });
  });

  it('a parent that accepts and drops at once is redialled with a growing backoff, not every 200 ms', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.opened' });
      s.send({ type: 'tunnel.closed', reason: 'closed by the parent (1006)' });
    });
    const waits = waitsBetweenSessions(r, 5);
    expect(waits).toEqual([200, 400, 800, 1500, 1500]);
    expect(r.context()).toMatchObject({ attempt: 6, sessions: 6 });
  });

  it('while the relay holds the reader no pong is awaited; released, the dead-peer timer starts afresh', () => {
    const r = start();
    const held = 'session.open.pinging.waiting,liveness.held';
    r.advance(pingIntervalMs);
    r.advance(pingIntervalMs);
    r.current().send({ type: 'tunnel.held' });
    expect(r.trace).toEqual(['session.connecting', open, held]);
    for (let t = 0; t < readerHeldTimeoutMs - 1000; t += 1000) r.advance(1000); // far past the dead-peer timeout
    expect(r.trace.at(-1)).toBe(held);
    // The pings go on meanwhile (they keep the hub's deadline moving).
    expect(r.current().pings.length).toBe(
      Math.floor((2 * pingIntervalMs + readerHeldTimeoutMs - 1000) / pingIntervalMs),
    );
    r.current().send({ type: 'tunnel.released' });
    r.advance(deadPeerTimeoutMs - 1);
    expect(r.trace).toEqual(['session.connecting', open, held, open]);
    r.advance(1);
    expect(r.trace.at(-1)).toBe('backingOff');
    expect(r.context().lastFailure).toBe('no pong from the parent');
  });

  it('a reader held for readerHeldTimeout drops the session, as the Go client read deadline would', () => {
    const r = start();
    r.current().send({ type: 'tunnel.held' });
    r.current().send({ type: 'tunnel.pong' }); // one read before the hold took effect: still held
    r.advance(readerHeldTimeoutMs);
    expect(r.trace).toEqual(['session.connecting', open, 'session.open.pinging.waiting,liveness.held', 'backingOff']);
    expect(r.context().lastFailure).toBe('the tunnel reader was held too long');
    expect(r.sessions[0]?.stopped).toBe(true);
  });

  it('backs off exponentially while the parent is unreachable, capped at 1.5 s, then reopens', () => {
    let up = false;
    const r = start((s) => {
      s.send(up ? { type: 'tunnel.opened' } : { type: 'tunnel.closed', reason: 'connect ECONNREFUSED' });
    });
    const waits = waitsBetweenSessions(r, 6);
    expect(waits).toEqual([200, 400, 800, 1500, 1500, 1500]);
    expect(r.context()).toMatchObject({ attempt: 7, lastFailure: 'connect ECONNREFUSED' });
    up = true;
    r.advance(1500); // back within 2 s of the parent's return, whatever the attempt
    expect(r.trace.at(-1)).toBe(open);
    r.current().send({ type: 'tunnel.pong' });
    expect(r.context().attempt).toBe(0);
  });

  it('an unanswered handshake is given up after the handshake timeout', () => {
    const r = start(() => undefined);
    r.advance(handshakeTimeoutMs);
    expect(r.trace).toEqual(['session.connecting', 'backingOff']);
    expect(r.context().lastFailure).toBe('handshake timed out');
    expect(r.sessions[0]?.stopped).toBe(true);
  });

  it('401/403 on the handshake emits credentials.rejected and retries slowly', () => {
    let status = 401;
    const r = start((s) => {
      s.send({ type: 'tunnel.closed', reason: `handshake: HTTP ${String(status)}`, status });
    });
    expect(r.trace).toEqual(['session.connecting', 'rejected']);
    expect(r.emitted).toEqual(['handshake: HTTP 401']);
    status = 403;
    r.advance(4999);
    expect(r.sessions).toHaveLength(1);
    r.advance(1);
    expect(r.sessions).toHaveLength(2);
    expect(r.emitted).toEqual(['handshake: HTTP 401', 'handshake: HTTP 403']);
    expect(r.trace).toEqual(['session.connecting', 'rejected', 'session.reconnecting', 'rejected']);
  });

  it('a server close after opening backs off and reconnects; an HTTP 503 is not a rejection', () => {
    let n = 0;
    const r = start((s) => {
      n++;
      s.send(n === 2 ? { type: 'tunnel.closed', reason: 'HTTP 503', status: 503 } : { type: 'tunnel.opened' });
    });
    r.current().send({ type: 'tunnel.closed', reason: 'closed by the parent (1006)' });
    r.advance(200);
    expect(r.trace).toEqual(['session.connecting', open, 'backingOff', 'session.reconnecting', 'backingOff']);
    expect(r.emitted).toEqual([]);
    r.advance(400);
    expect(r.trace.at(-1)).toBe(open);
  });

  it('a session actor that fails is an ordinary failure: back off and reconnect', () => {
    let first = true;
    const r = start((s) => {
      if (first) {
        first = false;
        throw new Error('boom');
      }
      s.send({ type: 'tunnel.opened' });
    });
    expect(r.trace).toEqual(['session.connecting', 'backingOff']);
    expect(r.context().lastFailure).toContain('boom');
    r.advance(200);
    expect(r.trace.at(-1)).toBe(open);
  });

  it('stopping the machine closes the session', () => {
    const r = start();
    r.actor.stop();
    expect(r.current().stopped).toBe(true);
  });
});
