import { createActor, fromCallback, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  classifyEnd,
  deadPeerTimeoutMs,
  failureResponse,
  handshakeTimeoutMs,
  pingIntervalMs,
  readerHeldTimeoutMs,
  socketUrl,
  type TunnelEnd,
  type TunnelFailureKind,
} from '../../../machines/socket/decisions.ts';
import {
  recheckFallbackDelay,
  recheckedDelay,
  socketDelays,
  refusedDelay,
  rejectedDelay,
  unreachableDelay,
} from '../../../machines/socket/timing.ts';
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
  rand: () => number = () => 0,
) {
  const clock = new SimulatedClock();
  const sessions: FakeSession[] = [];
  const emitted: string[] = [];
  /** Failing (by kind) / recovered reports, in order: what the agent logs at warn and shows in /readyz. */
  const reports: string[] = [];
  const machine = socketMachine.provide({
    // The reports to the root agent machine (none here): recorded instead.
    actions: {
      notifyCredentialsRejected: (_, message: string) => {
        emitted.push(message);
      },
      reportFailing: (_, p: { readonly kind: TunnelFailureKind }) => {
        reports.push(p.kind);
      },
      reportRecovered: () => {
        reports.push('recovered');
      },
    },
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
    // The shipped reconnect delays; rand 0 (no jitter) makes each wait its policy's longest.
    delays: socketDelays(rand),
  });
  const trace: string[] = [];
  const actor = createActor(machine, {
    input: { parentUrl: 'https://parent.example:6443/base/', clusterId, childServer: 'https://child:6443', enabled },
    clock,
    inspect: transitionRecorder((t) => {
      if (t.machine === 'socket') trace.push(t.to);
    }),
  });
  actor.start();
  const advance = (ms: number): void => {
    clock.increment(ms);
  };
  const current = (): FakeSession => {
    const s = sessions.at(-1);
    if (s === undefined) throw new Error('no session');
    return s;
  };
  return {
    actor,
    clock,
    sessions,
    trace,
    emitted,
    reports,
    advance,
    current,
    context: () => actor.getSnapshot().context,
  };
}

const open = 'session.open.pinging.waiting,liveness.alive';

/** Answers every ping of ours with a Pong, for `n` ping intervals: the session is proved healthy. */
function pongs(r: ReturnType<typeof start>, n: number): void {
  for (let i = 0; i < n; i++) {
    r.advance(pingIntervalMs);
    r.current().send({ type: 'tunnel.pong' });
  }
}

describe('socket statechart without the SocketConnection gate', () => {
  it('stays disabled and never dials', () => {
    const t = start(undefined, false);
    t.advance(60_000);
    expect(t.trace).toEqual(['disabled']);
    expect(t.sessions).toEqual([]);
  });
});

describe('socket decisions', () => {
  it('socketDelays builds every named delay from numbers: the shipped timing, a fixed wait only where given', () => {
    const d = socketDelays(() => 0, { pingIntervalMs: 7, unreachableRetryMs: 0 });
    const at = (attempt: number) => ({ context: { attempt } });
    expect(d).toMatchObject({ pingInterval: 7, deadPeerTimeout: deadPeerTimeoutMs, unreachableRetry: 0 });
    expect(d.handshakeTimeout).toBe(handshakeTimeoutMs);
    expect(d.readerHeldTimeout).toBe(readerHeldTimeoutMs);
    const refused = d.refusedRetry;
    expect(typeof refused === 'function' ? refused(at(3)) : refused).toBe(refusedDelay(3, () => 0));
  });

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

  const before = { opened: false, proved: false };
  it.each<[string, TunnelEnd, TunnelFailureKind, string]>([
    ['connection refused', { ...before, code: 'ECONNREFUSED' }, 'unreachable', 'retrySoon'],
    ['connection reset', { ...before, code: 'ECONNRESET' }, 'unreachable', 'retrySoon'],
    ['DNS failure', { ...before, code: 'ENOTFOUND' }, 'unreachable', 'retrySoon'],
    ['DNS retry later', { ...before, code: 'EAI_AGAIN' }, 'unreachable', 'retrySoon'],
    ['connect timeout', { ...before, code: 'ETIMEDOUT' }, 'unreachable', 'retrySoon'],
    ['no route', { ...before, code: 'EHOSTUNREACH' }, 'unreachable', 'retrySoon'],
    ['handshake unanswered', { ...before, timedOut: true }, 'unreachable', 'retrySoon'],
    ['a healthy session ended', { opened: true, proved: true }, 'unreachable', 'retrySoon'],
    ['a healthy session went silent', { opened: true, proved: true, timedOut: true }, 'unreachable', 'retrySoon'],
    ['404', { ...before, status: 404 }, 'status', 'backOff'],
    ['500', { ...before, status: 500 }, 'status', 'backOff'],
    ['502 (the hub behind the apiserver is down)', { ...before, status: 502 }, 'unreachable', 'retrySoon'],
    ['503 (the hub behind the apiserver is down)', { ...before, status: 503 }, 'unreachable', 'retrySoon'],
    ['504 (the hub behind the apiserver is down)', { ...before, status: 504 }, 'unreachable', 'retrySoon'],
    ['400', { ...before, status: 400 }, 'status', 'backOff'],
    ['302 (no redirects followed)', { ...before, status: 302 }, 'status', 'backOff'],
    ['401', { ...before, status: 401 }, 'unauthorized', 'rejected'],
    ['403', { ...before, status: 403 }, 'forbidden', 'recheck'],
    ['accepted, then closed before a pong', { opened: true, proved: false }, 'dropped', 'backOff'],
    ['accepted, then silent', { opened: true, proved: false, timedOut: true }, 'dropped', 'backOff'],
    ['accepted, then garbage (reset)', { opened: true, proved: false, code: 'ECONNRESET' }, 'dropped', 'backOff'],
    ['unknown CA', { ...before, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'tls', 'backOff'],
    ['self-signed', { ...before, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'tls', 'backOff'],
    ['wrong name', { ...before, code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'tls', 'backOff'],
    ['expired', { ...before, code: 'CERT_HAS_EXPIRED' }, 'tls', 'backOff'],
    ['no code (credentials unreadable, bad proxy)', before, 'other', 'backOff'],
    ['an unknown code', { ...before, code: 'EWHATEVER' }, 'other', 'backOff'],
  ])('%s → %s, %s', (_, end, kind, response) => {
    expect(classifyEnd(end)).toBe(kind);
    expect(failureResponse(kind)).toBe(response);
  });
});

describe('socket reconnect timing (the shipped policies)', () => {
  const draws = [0, 0.25, 0.5, 0.75, 0.999];
  const range = (f: (attempt: number, rand: () => number) => number, attempt: number) => {
    const ds = draws.map((d) => f(attempt, () => d));
    return [Math.min(...ds), Math.max(...ds)];
  };

  it('unreachable: the first redial spread over 0.2–2 s, then every 0.9–1.2 s however long it lasts', () => {
    expect(range(unreachableDelay, 1)).toEqual([202, 2000]);
    for (const a of [2, 3, 10, 1000]) expect(range(unreachableDelay, a)).toEqual([900, 1200]);
  });

  it('an error status (or a dropped session, TLS, …): 4 s doubling to a cap of 60 s, 42–60 s there', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map((a) => refusedDelay(a, () => 0))).toEqual([
      4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
    expect(range(refusedDelay, 50)).toEqual([42_018, 60_000]);
    expect(range(refusedDelay, 1)).toEqual([2801, 4000]);
  });

  it('401: 5 s doubling to 60 s', () => {
    expect([1, 2, 3, 4, 5].map((a) => rejectedDelay(a, () => 0))).toEqual([5000, 10_000, 20_000, 40_000, 60_000]);
  });

  it('403, once registration confirmed: at once the first time, then 250 ms doubling to 60 s', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((a) => recheckedDelay(a, () => 0))).toEqual([
      0, 250, 500, 1000, 2000, 4000, 60_000,
    ]);
  });

  it('403 without an answer from registration: 5 s doubling to 60 s, never before the confirmed redial', () => {
    expect([1, 2, 20].map((a) => recheckFallbackDelay(a, () => 0))).toEqual([5000, 10_000, 60_000]);
    for (let a = 1; a < 30; a++)
      for (const d of draws)
        expect(recheckFallbackDelay(a, () => d)).toBeGreaterThanOrEqual(recheckedDelay(a, () => 0));
  });
});

describe('socket statechart', () => {
  it('connects to the sockets URL, opens, pings every 5 s and stays open while pongs come', () => {
    const r = start();
    expect(r.current().input).toEqual({
      instance: r.actor.sessionId,
      credentialsRead: 1,
      url: `wss://parent.example:6443/base/apis/proxies.clusternet.io/v1alpha1/sockets/${clusterId}`,
      parentUrl: 'https://parent.example:6443/base/',
      clusterId,
      childServer: 'https://child:6443',
    });
    expect(r.trace).toEqual(['session.connecting', open]);
    pongs(r, 12);
    expect(r.current().pings).toEqual(Array.from({ length: 12 }, (_, i) => (i + 1) * pingIntervalMs));
    expect(r.trace).toEqual(['session.connecting', open]);
    expect(r.context()).toMatchObject({ attempt: 0, failure: undefined, sessions: 1 });
    expect(r.sessions).toHaveLength(1);
    expect(r.reports).toEqual([]);
  });

  it('a healthy session whose peer goes silent is dropped after 15 s; the parent counts as unreachable: redial within 2 s', () => {
    const r = start();
    pongs(r, 2);
    r.advance(deadPeerTimeoutMs - 1);
    expect(r.trace.at(-1)).toBe(open);
    r.advance(1);
    expect(r.trace).toEqual(['session.connecting', open, 'backingOff']);
    expect(r.sessions[0]?.stopped).toBe(true);
    expect(r.context()).toMatchObject({ attempt: 1, failure: 'unreachable', lastFailure: 'no pong from the parent' });
    expect(waitsBetweenSessions(r, 1)).toEqual([2000]);
    expect(r.trace).toEqual(['session.connecting', open, 'backingOff', 'session.reconnecting', open]);
    expect(r.context()).toMatchObject({ attempt: 1, lastFailure: undefined, sessions: 2 });
    pongs(r, 1); // healthy again: the next failure starts a new count
    expect(r.context()).toMatchObject({ attempt: 0, failure: undefined, sessions: 2 });
    expect(r.reports).toEqual(['unreachable', 'recovered']);
  });

  it('a parent that accepts and drops at once (dropped) is redialled 4 s doubling to 60 s, not every second', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.opened' });
      s.send({ type: 'tunnel.closed', reason: 'closed by the parent (1006)' });
    });
    expect(waitsBetweenSessions(r, 6)).toEqual([4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    expect(r.context()).toMatchObject({ attempt: 7, failure: 'dropped', sessions: 7 });
    expect(r.reports).toEqual(['dropped']);
  });

  // Issue 13 defect #4: a Ping from the parent was reported as a Pong and reset the backoff.
  it('a Ping from the parent is not proof of health: a parent that pings, then ends each session, is backed off', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.opened' });
      s.send({ type: 'tunnel.pinged' });
      s.send({ type: 'tunnel.closed', reason: 'text message from the parent', code: 'ECONNRESET' });
    });
    expect(waitsBetweenSessions(r, 4)).toEqual([4000, 8000, 16_000, 32_000]);
    expect(r.context()).toMatchObject({ attempt: 5, failure: 'dropped' });
  });

  it('a Pong that answers no ping of ours is not proof of health either; one that answers ours is', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.opened' });
      s.send({ type: 'tunnel.pong' }); // before our first ping
      s.send({ type: 'tunnel.closed', reason: 'closed by the parent (1006)' });
    });
    expect(waitsBetweenSessions(r, 2)).toEqual([4000, 8000]);
    expect(r.context()).toMatchObject({ attempt: 3, failure: 'dropped' });
    const live = start();
    live.current().send({ type: 'tunnel.pinged' });
    live.current().send({ type: 'tunnel.pong' });
    expect(live.context()).toMatchObject({ proved: false, pingOutstanding: false });
    live.advance(pingIntervalMs); // our ping
    expect(live.context().pingOutstanding).toBe(true);
    live.current().send({ type: 'tunnel.pong' });
    expect(live.context()).toMatchObject({ proved: true, pingOutstanding: false });
  });

  it('a Ping from the parent keeps a session alive (it is live), without proving it', () => {
    const r = start();
    for (let t = 0; t < 3 * deadPeerTimeoutMs; t += 5000) {
      r.advance(5000);
      r.current().send({ type: 'tunnel.pinged' });
    }
    expect(r.trace).toEqual(['session.connecting', open]);
    expect(r.context()).toMatchObject({ proved: false, pingOutstanding: true });
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
    expect(r.trace.at(-1)).toBe('refused'); // never answered a ping: dropped
    expect(r.context()).toMatchObject({ lastFailure: 'no pong from the parent', failure: 'dropped' });
  });

  it('a reader held for readerHeldTimeout drops the session, as the Go client read deadline would', () => {
    const r = start();
    r.current().send({ type: 'tunnel.held' });
    r.current().send({ type: 'tunnel.pong' }); // one read before the hold took effect: still held
    r.advance(readerHeldTimeoutMs);
    expect(r.trace).toEqual(['session.connecting', open, 'session.open.pinging.waiting,liveness.held', 'refused']);
    expect(r.context().lastFailure).toBe('the tunnel reader was held too long');
    expect(r.sessions[0]?.stopped).toBe(true);
  });

  it('redials an unreachable parent 2 s after the first refusal, then every 1.2 s, and is back within 1.2 s of its return', () => {
    let up = false;
    const r = start((s) => {
      s.send(
        up
          ? { type: 'tunnel.opened' }
          : { type: 'tunnel.closed', reason: 'connect ECONNREFUSED', code: 'ECONNREFUSED' },
      );
    });
    expect(waitsBetweenSessions(r, 6)).toEqual([2000, 1200, 1200, 1200, 1200, 1200]);
    expect(r.context()).toMatchObject({ attempt: 7, failure: 'unreachable', lastFailure: 'connect ECONNREFUSED' });
    expect(r.trace.filter((t) => t === 'backingOff')).toHaveLength(7);
    up = true;
    r.advance(1200); // back within 1.2 s of the parent's return, however long it was away
    expect(r.trace.at(-1)).toBe(open);
    pongs(r, 1);
    expect(r.context()).toMatchObject({ attempt: 0, failure: undefined });
    expect(r.reports).toEqual(['unreachable', 'recovered']);
  });

  it('an unanswered handshake is given up after the handshake timeout: unreachable', () => {
    const r = start(() => undefined);
    r.advance(handshakeTimeoutMs);
    expect(r.trace).toEqual(['session.connecting', 'backingOff']);
    expect(r.context()).toMatchObject({ lastFailure: 'handshake timed out', failure: 'unreachable' });
    expect(r.sessions[0]?.stopped).toBe(true);
  });

  // Issue 13 defect #5: a parent answering 404 was redialled ~40 times a minute, nothing logged above info.
  it('a parent answering 404 is redialled 4 s doubling to 60 s: 9 handshakes in 5 min, then 1 a minute; said once', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.closed', reason: 'handshake: HTTP 404 Not Found', status: 404 });
    });
    for (let t = 0; t < 5 * 60_000; t += 1000) r.advance(1000);
    // At 0, 4, 12, 28, 60, 120, 180, 240 and 300 s with the longest waits (rand 0); jitter shortens them
    // by up to 30 %. Before: about 200 in 5 min.
    expect(r.sessions).toHaveLength(9);
    for (let t = 0; t < 5 * 60_000; t += 1000) r.advance(1000);
    expect(r.sessions).toHaveLength(14);
    expect(r.trace.filter((t) => t === 'refused')).toHaveLength(14);
    expect(r.context()).toMatchObject({ failure: 'status', attempt: 14 });
    expect(r.reports).toEqual(['status']); // one warning, not one per retry
    expect(r.emitted).toEqual([]);
  });

  it('the failure is reported each time its kind changes, and the count starts over with the new kind', () => {
    const ends: SocketEvent[] = [
      { type: 'tunnel.closed', reason: 'HTTP 500', status: 500 },
      { type: 'tunnel.closed', reason: 'HTTP 500', status: 500 },
      { type: 'tunnel.closed', reason: 'connect ECONNREFUSED', code: 'ECONNREFUSED' },
      { type: 'tunnel.closed', reason: 'HTTP 404', status: 404 },
    ];
    let n = 0;
    const r = start((s) => {
      s.send(ends[n++] ?? { type: 'tunnel.opened' });
    });
    expect(waitsBetweenSessions(r, 4)).toEqual([4000, 8000, 2000, 4000]);
    expect(r.reports).toEqual(['status', 'unreachable', 'status']);
    expect(r.trace.at(-1)).toBe(open);
  });

  it('401 on the handshake emits credentials.rejected and retries slowly', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.closed', reason: 'handshake: HTTP 401', status: 401 });
    });
    expect(r.trace).toEqual(['session.connecting', 'rejected']);
    expect(r.emitted).toEqual(['handshake: HTTP 401']);
    r.actor.send({ type: 'credentials.confirmed' }); // 401 waits its backoff whatever registration says
    r.advance(4999);
    expect(r.sessions).toHaveLength(1);
    r.advance(1);
    expect(r.sessions).toHaveLength(2);
    expect(r.emitted).toEqual(['handshake: HTTP 401', 'handshake: HTTP 401']);
    expect(r.trace).toEqual(['session.connecting', 'rejected', 'session.reconnecting', 'rejected']);
    expect(r.reports).toEqual(['unauthorized']);
  });

  it('the credentials in use are chart state: a 401 or 403 invalidates them, any other failure keeps them', () => {
    const ends: (number | undefined)[] = [503, 500, 401, undefined, 403];
    let n = 0;
    const r = start((s) => {
      const status = ends[n++];
      s.send({ type: 'tunnel.closed', reason: `ended ${String(status)}`, ...(status === undefined ? {} : { status }) });
    });
    waitsBetweenSessions(r, 4);
    r.actor.send({ type: 'credentials.confirmed' });
    expect(r.sessions.map((s) => s.input.credentialsRead)).toEqual([1, 1, 1, 2, 2, 3]);
    expect(r.context().credentialsRead).toBe(3);
  });

  // Issue 13 defect #3: a hub still starting answers 403 for a moment; the agent waited 42–60 s with the
  // attempt count of the 503s before it.
  it('503s, then a 403: registration is asked to re-check, and the tunnel redials the moment it confirms', () => {
    const statuses = [503, 503, 503, 503, 503, 403];
    let n = 0;
    const r = start((s) => {
      const status = statuses[n++];
      s.send(
        status === undefined
          ? { type: 'tunnel.opened' }
          : { type: 'tunnel.closed', reason: `handshake: HTTP ${String(status)}`, status },
      );
    });
    waitsBetweenSessions(r, 5);
    expect(r.trace.at(-1)).toBe('recheckingCredentials.awaitingConfirmation');
    expect(r.emitted).toEqual(['handshake: HTTP 403']);
    expect(r.context()).toMatchObject({ failure: 'forbidden', attempt: 1 }); // not the sixth failure
    r.advance(9); // registration's check takes a moment
    expect(r.sessions).toHaveLength(6);
    r.actor.send({ type: 'credentials.confirmed' });
    expect(r.sessions).toHaveLength(7); // at once, without a timer
    expect(r.trace.slice(-3)).toEqual(['recheckingCredentials.awaitingConfirmation', 'session.reconnecting', open]);
    expect(r.reports).toEqual(['unreachable', 'forbidden']);
  });

  it('403s in a row: each confirmation redials after a growing pause (250 ms doubling), so a lasting 403 is not hammered', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.closed', reason: 'handshake: HTTP 403', status: 403 });
    });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = r.sessions.length;
      r.actor.send({ type: 'credentials.confirmed' });
      let waited = 0;
      while (r.sessions.length === before && waited < 60_000) {
        r.advance(50);
        waited += 50;
      }
      waits.push(r.sessions.length > before && waited === 0 ? 0 : waited);
    }
    expect(waits).toEqual([0, 250, 500, 1000, 2000]);
    expect(r.context()).toMatchObject({ failure: 'forbidden', attempt: 6 });
    expect(r.emitted).toHaveLength(6);
  });

  it('403 without an answer from registration: redials after the 5 s fallback; a late confirmation changes nothing', () => {
    let n = 0;
    const r = start((s) => {
      s.send(
        n++ === 0 ? { type: 'tunnel.closed', reason: 'handshake: HTTP 403', status: 403 } : { type: 'tunnel.opened' },
      );
    });
    r.advance(4999);
    expect(r.sessions).toHaveLength(1);
    r.advance(1);
    expect(r.sessions).toHaveLength(2);
    expect(r.trace).toEqual([
      'session.connecting',
      'recheckingCredentials.awaitingConfirmation',
      'session.reconnecting',
      open,
    ]);
    r.actor.send({ type: 'credentials.confirmed' });
    expect(r.trace.at(-1)).toBe(open);
    expect(r.sessions).toHaveLength(2);
  });

  it('a confirmation outside a 403 (the periodic check) changes nothing', () => {
    const r = start((s) => {
      s.send({ type: 'tunnel.closed', reason: 'HTTP 404', status: 404 });
    });
    r.actor.send({ type: 'credentials.confirmed' });
    expect(r.trace).toEqual(['session.connecting', 'refused']);
    expect(r.sessions).toHaveLength(1);
  });

  it('a session actor that fails is a failure of kind other: backed off and redialled', () => {
    let first = true;
    const r = start((s) => {
      if (first) {
        first = false;
        throw new Error('boom');
      }
      s.send({ type: 'tunnel.opened' });
    });
    expect(r.trace).toEqual(['session.connecting', 'refused']);
    expect(r.context()).toMatchObject({ failure: 'other' });
    expect(r.context().lastFailure).toContain('boom');
    r.advance(4000);
    expect(r.trace.at(-1)).toBe(open);
  });

  it('jitter only shortens the waits: with random draws every wait lies within its policy', () => {
    let draw = 0;
    const rand = () => (draw = (draw + 0.37) % 1);
    const r = start(
      (s) => {
        s.send({ type: 'tunnel.closed', reason: 'connect ECONNREFUSED', code: 'ECONNREFUSED' });
      },
      true,
      rand,
    );
    const waits = waitsBetweenSessions(r, 20);
    expect(waits[0]).toBeGreaterThanOrEqual(200);
    expect(waits[0]).toBeLessThanOrEqual(2000);
    for (const w of waits.slice(1)) {
      expect(w).toBeGreaterThanOrEqual(900);
      expect(w).toBeLessThanOrEqual(1200);
    }
  });

  it('stopping the machine closes the session', () => {
    const r = start();
    r.actor.stop();
    expect(r.current().stopped).toBe(true);
  });
});
