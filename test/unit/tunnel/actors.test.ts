// The socket machine's real session actor against loopback failures: no parent listens, so every
// attempt ends at once and the machine backs off and retries.

import { createRequire } from 'node:module';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createActor, setup, type CallbackActorLogic } from 'xstate';
import { WebSocketServer } from 'ws';
import { socketUrl } from '../../../machines/socket/decisions.ts';
import type { SessionCommand, SessionInput, SocketEvent } from '../../../machines/socket/machine.ts';
import { direct, type ProxyFunc } from '../../../src/kube/proxy.ts';
import { createSocketMachine, nonZeroMasks } from '../../../src/tunnel/actors.ts';
import type { DedicatedCredentials } from '../../../src/parent/credentials-secret.ts';
import { eventually } from '../../env/eventually.ts';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  await new Promise((r) => srv.close(r));
  return typeof a === 'object' && a !== null ? a.port : 0;
}

async function machineAgainstNothing(
  credentials: DedicatedCredentials = { token: 't', caPem: undefined },
  proxyFor: ProxyFunc = direct,
) {
  let loads = 0;
  const machine = createSocketMachine({
    log: pino({ level: 'silent' }),
    allowedTargets: [],
    proxyFor,
    // What is tested is when credentials are read, not the backoff: redial at once, so a loaded CI
    // machine's slow timers cannot stretch three attempts past the test's deadline.
    timing: { unreachableRetryMs: 0 },
    loadCredentials: () => {
      loads++;
      return Promise.resolve(credentials);
    },
  });
  const parentUrl = `https://127.0.0.1:${String(await closedPort())}`;
  const run = () => {
    const errors: unknown[] = [];
    const actor = createActor(machine, {
      input: { parentUrl, clusterId: 'c1', childServer: 'https://127.0.0.1:1' },
    });
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    return { actor, errors };
  };
  return { run, loads: () => loads };
}

describe('socket session actor', () => {
  it('reads the dedicated credentials once per run of the machine (one leadership term), not per process', async () => {
    const m = await machineAgainstNothing();
    const first = m.run();
    await eventually('three failed attempts', () =>
      Promise.resolve(first.actor.getSnapshot().context.attempt >= 3 ? true : undefined),
    );
    expect(m.loads()).toBe(1);
    first.actor.stop();
    const second = m.run(); // the root invokes the machine anew for the next term
    await eventually('a failed attempt', () =>
      Promise.resolve(second.actor.getSnapshot().context.attempt >= 2 ? true : undefined),
    );
    expect(m.loads()).toBe(2);
    second.actor.stop();
    expect([...first.errors, ...second.errors]).toEqual([]);
  });

  it('a proxy it cannot use ends the attempt with the reason, no unhandled rejection', async () => {
    const m = await machineAgainstNothing(undefined, () => new URL('socks5://proxy.example:1080'));
    const { actor, errors } = m.run();
    await eventually('a failed attempt', () =>
      Promise.resolve(actor.getSnapshot().context.attempt >= 1 ? true : undefined),
    );
    expect(actor.getSnapshot().context.lastFailure).toMatch(
      /^cannot open the tunnel: proxy .*only http and https proxies/,
    );
    expect(actor.getSnapshot().value).toBe('refused'); // a configuration error: not worth redialling every second
    expect(actor.getSnapshot().context.failure).toBe('other');
    actor.stop();
    expect(errors).toEqual([]);
  });
});

/** The session actor alone, under a parent that records what it reports. */
async function sessionAgainst(parentUrl: string, until: (events: SocketEvent[]) => boolean) {
  const machine = createSocketMachine({
    log: pino({ level: 'silent' }),
    allowedTargets: [],
    loadCredentials: () => Promise.resolve({ token: 't', caPem: undefined }),
  });
  const session = machine.implementations.actors.session as CallbackActorLogic<SessionCommand, SessionInput>;
  const events: SocketEvent[] = [];
  const recorder = setup({ types: { events: {} as SocketEvent }, actors: { session } }).createMachine({
    invoke: {
      id: 'session',
      src: 'session',
      input: {
        instance: 'i',
        credentialsRead: 1,
        url: socketUrl(parentUrl, 'c1'),
        parentUrl,
        clusterId: 'c1',
        childServer: 'https://127.0.0.1:1',
      },
    },
    on: { '*': { actions: ({ event }) => events.push(event) } },
  });
  const actor = createActor(recorder).start();
  try {
    await eventually('the session reports', () => Promise.resolve(until(events) ? true : undefined));
  } finally {
    actor.stop();
  }
  return events;
}

describe('socket session actor: what it reports', () => {
  // Issue 13 defect #4: a Ping from the parent was reported as `tunnel.pong`, which reset the backoff.
  it('a Ping from the parent is reported as tunnel.pinged, not as a Pong', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws) => {
      ws.ping();
      setTimeout(() => {
        ws.send('garbage: a text message');
        ws.close();
      }, 50);
    });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as AddressInfo).port;
    try {
      const events = await sessionAgainst(`http://127.0.0.1:${String(port)}`, (e) =>
        e.some((x) => x.type === 'tunnel.closed'),
      );
      expect(events.map((e) => e.type)).toEqual(['tunnel.opened', 'tunnel.pinged', 'tunnel.closed']);
    } finally {
      await new Promise((r) => {
        wss.close(r);
      });
    }
  });

  it('an error status on the handshake is reported with the status; a refused connection with its code', async () => {
    const http = createHttpServer((_, res) => {
      res.writeHead(404).end('404 page not found');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as AddressInfo).port;
    try {
      const events = await sessionAgainst(`http://127.0.0.1:${String(port)}`, (e) => e.length > 0);
      expect(events).toEqual([{ type: 'tunnel.closed', reason: 'handshake: HTTP 404 Not Found', status: 404 }]);
    } finally {
      await new Promise((r) => http.close(r));
    }
    const refused = await sessionAgainst(`http://127.0.0.1:${String(await closedPort())}`, (e) => e.length > 0);
    expect(refused).toMatchObject([{ type: 'tunnel.closed', code: 'ECONNREFUSED' }]);
  });
});

/** ws's frame builder (not in its typings): the list of buffers a message is written as. */
const { Sender } = createRequire(import.meta.url)('ws') as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};

describe('websocket masks', () => {
  const frame = (data: Buffer, generateMask: (mask: Buffer) => void): Buffer[] =>
    Sender.frame(data, { fin: true, opcode: 2, mask: true, readOnly: true, rsv1: false, generateMask });

  it('ws frames a message with a zero mask as the caller buffer itself, with any other in a copy', () => {
    const data = Buffer.from('bytes of the shared read buffer');
    expect(frame(data, (m) => m.fill(0)).includes(data)).toBe(true); // what a later read would overwrite
    let fills = 0;
    const ours = frame(
      data,
      nonZeroMasks((pool) => pool.fill(fills++ === 0 ? 0 : 0x5a)),
    );
    expect(ours).toHaveLength(1);
    expect(ours.includes(data)).toBe(false);
    expect(data.toString()).toBe('bytes of the shared read buffer'); // masked into the copy, not in place
  });

  it('are never all zero: ws would then frame the relay shared read buffer without copying it', () => {
    let fills = 0;
    const generate = nonZeroMasks((pool) => {
      // The first pool is all zeros, the next all ones.
      pool.fill(fills++ === 0 ? 0 : 1);
    });
    const mask = Buffer.alloc(4);
    generate(mask);
    expect([...mask]).toEqual([1, 1, 1, 1]);
    expect(fills).toBe(2);
  });

  it('come from the random pool four bytes at a time', () => {
    const generate = nonZeroMasks((pool) => {
      for (let i = 0; i < pool.length; i++) pool[i] = i % 256;
    });
    const masks = Array.from({ length: 3 }, () => {
      const m = Buffer.alloc(4);
      generate(m);
      return [...m];
    });
    // [0, 1, 2, 3] is not zero: it is used as is.
    expect(masks).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
  });
});
