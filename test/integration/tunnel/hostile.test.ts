// A hostile parent: a websocket server on the sockets path that sends garbage, one kind per session.
// The agent must survive every one of them (no crash, no actor error), log each kind once, and
// reconnect; a well-behaved session at the end must stay open.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeFrame, encodeFrame, errorText, MessageType } from '../../../src/tunnel/frame-codec.ts';
import { eventually } from '../../env/eventually.ts';
import { createClusterPki } from '../../env/pki.ts';
import { runTunnel } from './harness.ts';

const token = randomBytes(8).toString('hex');
let dir: string;
let https: Server;
let caPem: string;
let port: number;
const replies: { session: number; connId: number; type: number; text: string }[] = [];
let sessions = 0;

type Behaviour = (ws: WebSocket, n: number) => void;
/** What the server does on its next sessions, one each; later sessions behave (send nothing). */
let queue: Behaviour[] = [];

const garbage: Behaviour[] = [
  (ws) => {
    ws.send('hello', { binary: false }); // text message: ends the session
  },
  (ws) => {
    ws.send(Buffer.from([0x0e])); // truncated header
  },
  (ws) => {
    ws.send(encodeFrame(1, 5, 63, Buffer.from('??'))); // unknown type: ignored
    ws.send(encodeFrame(2, 99, MessageType.Data, Buffer.from('data for nobody'))); // answered with Error
    ws.send(encodeFrame(3, 0, MessageType.AddClient, Buffer.from('a/b'))); // peer-only: ignored
    ws.send(encodeFrame(4, 7, MessageType.Connect, Buffer.from('nonsense'))); // unparsable target
    setTimeout(() => {
      ws.close(1000, 'done');
    }, 500);
  },
  (ws) => {
    ws.send(Buffer.alloc(17 * 1024 * 1024)); // above the 16 MiB message limit
  },
  (ws) => {
    for (let i = 0; i < 200; i++) ws.send(randomBytes(1 + (i % 40)));
    setTimeout(() => {
      ws.close(1000, 'done');
    }, 500);
  },
  (ws) => {
    ws.send(encodeFrame(5, 100, MessageType.Connect, Buffer.from('tcp/203.0.113.1:9'))); // not allowed
  },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-'));
  const pki = await createClusterPki(join(dir, 'pki'), { caName: 'hostile-ca' });
  caPem = await readFile(pki.caCert, 'utf8');
  https = createServer({ cert: await readFile(pki.apiserverCert), key: await readFile(pki.apiserverKey) });
  const wss = new WebSocketServer({ noServer: true });
  https.on('upgrade', (req, socket, head) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const n = sessions++;
      ws.on('message', (data: Buffer) => {
        const d = decodeFrame(data);
        if (d.ok)
          replies.push({ session: n, connId: d.frame.connId, type: d.frame.type, text: errorText(d.frame.payload) });
      });
      ws.on('error', () => undefined);
      queue.shift()?.(ws, n);
    });
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  const addr = https.address();
  port = typeof addr === 'object' && addr !== null ? addr.port : 0;
}, 60_000);

afterAll(async () => {
  https.closeAllConnections();
  await new Promise((r) => https.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('a hostile parent', () => {
  it('survives garbage of every kind, logs each kind once and reconnects each time', async () => {
    const tunnel = runTunnel(
      { parentUrl: `https://127.0.0.1:${String(port)}`, clusterId: randomUUID(), childServer: 'https://127.0.0.1:1' },
      {
        allowedTargets: [],
        loadCredentials: () => Promise.resolve({ token, caPem }),
        // Each garbage session is a parent that accepted and dropped: the chart backs it off from 4 s
        // (tested in test/unit/machines/socket.test.ts); here only what the relay survives matters.
        timing: { refusedRetryMs: 200 },
      },
    );
    queue = [...garbage];
    try {
      await eventually('every behaviour was tried', () => Promise.resolve(queue.length === 0 ? true : undefined), {
        timeoutMs: 30_000,
      });
      // The last session behaves (after one refused Connect): the tunnel stays open.
      await tunnel.waitOpen();
      await new Promise((r) => setTimeout(r, 1500));
      expect(tunnel.actor.getSnapshot().matches({ session: 'open' })).toBe(true);
      expect(tunnel.errors).toEqual([]);
      expect(tunnel.actor.getSnapshot().status).toBe('active');

      expect(replies).toContainEqual({
        session: 2,
        connId: 99,
        type: MessageType.Error,
        text: 'connection not found client/0/99',
      });
      expect(replies).toContainEqual({
        session: 2,
        connId: 7,
        type: MessageType.Error,
        text: 'failed to parse connect address',
      });
      expect(replies).toContainEqual({ session: 5, connId: 100, type: MessageType.Error, text: 'connect not allowed' });
      // Nothing else went back for the ignored kinds (unknown type, AddClient).
      expect(replies.filter((r) => r.connId === 5 || r.connId === 0)).toEqual([]);
      // Spec §5.4: the agent sends neither Connect nor AddClient/RemoveClient, whatever it was sent.
      const forbidden: number[] = [MessageType.Connect, MessageType.AddClient, MessageType.RemoveClient];
      expect(replies.filter((r) => forbidden.includes(r.type))).toEqual([]);

      const failures = tunnel.states.filter((s) => s.to === 'backingOff' || s.to === 'refused').length;
      expect(failures).toBeGreaterThanOrEqual(5);
      const msgs = tunnel.logs.map((l) => l.msg);
      const once = (needle: string): void => {
        expect(
          msgs.filter((m) => m.includes(needle)),
          needle,
        ).toHaveLength(1);
      };
      once('text message from the parent');
      once('truncated');
      once('message of unknown type');
      once('data for an unknown stream');
      // Normal when the hub closes an idle connection as its target does (issue 13 #14): debug, not warn.
      expect(tunnel.logs.find((l) => l.msg.includes('data for an unknown stream'))?.level).toBe(20);
      once('hub-to-hub');
    } finally {
      tunnel.stop();
    }
  }, 60_000);

  it('with --tunnel-allowed-targets=*, Connects to addresses Node cannot dial get an Error each; the session goes on', async () => {
    const targets = ['tcp/foo', 'tcp/host:99999', 'tcp/[::1]:-1', 'tcp6/127.0.0.1:1'];
    let first = -1;
    queue = [
      (ws, n) => {
        first = n;
        targets.forEach((t, i) => {
          ws.send(encodeFrame(10 + i, 200 + i, MessageType.Connect, Buffer.from(t)));
        });
      },
    ];
    const tunnel = runTunnel(
      { parentUrl: `https://127.0.0.1:${String(port)}`, clusterId: randomUUID(), childServer: 'https://127.0.0.1:1' },
      { allowedTargets: ['*'], loadCredentials: () => Promise.resolve({ token, caPem }) },
    );
    try {
      await eventually('every Connect was answered', () =>
        Promise.resolve(replies.filter((r) => r.session === first).length >= targets.length ? true : undefined),
      );
      expect(replies.filter((r) => r.session === first)).toEqual([
        {
          session: first,
          connId: 200,
          type: MessageType.Error,
          text: 'dial tcp: address foo: missing port in address',
        },
        { session: first, connId: 201, type: MessageType.Error, text: 'dial tcp: address 99999: invalid port' },
        { session: first, connId: 202, type: MessageType.Error, text: 'dial tcp: address -1: invalid port' },
        {
          session: first,
          connId: 203,
          type: MessageType.Error,
          text: 'dial tcp6: address 127.0.0.1: no suitable address found',
        },
      ]);
      await new Promise((r) => setTimeout(r, 500));
      expect(tunnel.actor.getSnapshot().matches({ session: 'open' })).toBe(true);
      expect(tunnel.actor.getSnapshot().context.sessions).toBe(1);
      expect(tunnel.errors).toEqual([]);
    } finally {
      tunnel.stop();
    }
  }, 60_000);
});
