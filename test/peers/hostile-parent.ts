// A hostile parent for the tunnel's memory and reply tests: a websocket server on the sockets path that
// writes its tunnel messages as raw websocket frames straight to the TLS socket (as fast as the agent
// reads them, never faster: it waits while more than 4 MiB is unsent), plus a target the agent dials
// that accepts and never reads. What it does per session is the test's to say (`next`); it counts every
// message the agent sends back.
//
//   flood:  one Resume (it claims Pause support), Connects for N streams to the target, then Data for
//           all of them round robin, ignoring every Pause, until the agent has ended every stream (or
//           a time limit); then Error(EOF) for each stream and the target's sockets closed.
//   burst:  many Connects written in one piece; it reads all the replies.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttps, type Server } from 'node:https';
import { createServer as createNet, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { decodeFrame, encodeFrame, errorText, MessageType } from '../../src/tunnel/frame-codec.ts';
import { createClusterPki } from '../env/pki.ts';

/** One unmasked binary websocket frame (server to client) around `message`. */
export function wsFrame(message: Buffer): Buffer {
  const n = message.length;
  const head =
    n < 126
      ? Buffer.from([0x82, n])
      : n < 65536
        ? Buffer.from([0x82, 126, n >> 8, n & 255])
        : Buffer.concat([Buffer.from([0x82, 127]), bigEndian64(n)]);
  return Buffer.concat([head, message]);
}

function bigEndian64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** What the agent sent back in one session. */
export interface SessionLog {
  /** Messages by type. */
  readonly types: Map<number, number>;
  /** Error texts by connID, in order. */
  readonly errors: Map<number, string[]>;
}

export interface Session {
  readonly log: SessionLog;
  /** Writes raw bytes (already framed) to the agent; resolves once under 4 MiB is unsent. */
  write(frames: Buffer): Promise<void>;
  readonly closed: boolean;
  close(): void;
}

export type Behaviour = (session: Session) => Promise<void>;

const highWater = 4 * 1024 * 1024;

export class HostileParent {
  readonly token = randomBytes(8).toString('hex');
  readonly url: string;
  readonly caPem: string;
  /** `host:port` of the target that accepts and never reads. */
  readonly target: string;
  readonly sessions: SessionLog[] = [];
  readonly #https: Server;
  readonly #targetServer: NetServer;
  readonly #targetSockets = new Set<Socket>();
  readonly #dir: string;
  #next: Behaviour[] = [];
  readonly #running = new Set<Promise<void>>();

  private constructor(https: Server, target: NetServer, dir: string, caPem: string) {
    this.#https = https;
    this.#targetServer = target;
    this.#dir = dir;
    this.caPem = caPem;
    this.url = `https://127.0.0.1:${String(portOf(https))}`;
    this.target = `127.0.0.1:${String(portOf(target))}`;
  }

  static async start(): Promise<HostileParent> {
    const dir = await mkdtemp(join(tmpdir(), 'hostile-parent-'));
    const pki = await createClusterPki(join(dir, 'pki'), { caName: 'hostile-parent-ca' });
    const https = createHttps({ cert: await readFile(pki.apiserverCert), key: await readFile(pki.apiserverKey) });
    const target = createNet();
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const parent = new HostileParent(https, target, dir, await readFile(pki.caCert, 'utf8'));
    parent.#serve();
    return parent;
  }

  /** What the next sessions do, one behaviour each; later sessions idle. */
  next(...behaviours: Behaviour[]): void {
    this.#next.push(...behaviours);
  }

  /** Connections the target holds open (none is ever read). */
  get targetConnections(): number {
    return this.#targetSockets.size;
  }

  /** Closes every target connection: the agent's streams to it end. */
  closeTargets(): void {
    for (const s of this.#targetSockets) s.destroy();
  }

  async close(): Promise<void> {
    this.#next = [];
    this.closeTargets();
    this.#https.closeAllConnections();
    await Promise.allSettled([...this.#running]);
    await new Promise((r) => this.#https.close(r));
    await new Promise((r) => this.#targetServer.close(r));
    await rm(this.#dir, { recursive: true, force: true });
  }

  #serve(): void {
    this.#targetServer.on('connection', (s) => {
      s.pause();
      s.on('error', () => undefined);
      this.#targetSockets.add(s);
      s.once('close', () => this.#targetSockets.delete(s));
    });
    const wss = new WebSocketServer({ noServer: true });
    this.#https.on('upgrade', (req, socket: Duplex, head) => {
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const log: SessionLog = { types: new Map(), errors: new Map() };
        this.sessions.push(log);
        ws.on('message', (data: Buffer) => {
          const d = decodeFrame(data);
          if (!d.ok) return;
          const { type, connId, payload } = d.frame;
          log.types.set(type, (log.types.get(type) ?? 0) + 1);
          if (type === MessageType.Error) {
            const texts = log.errors.get(connId) ?? [];
            texts.push(errorText(payload));
            log.errors.set(connId, texts);
          }
        });
        ws.on('error', () => undefined);
        let closed = false;
        ws.once('close', () => (closed = true));
        const session: Session = {
          log,
          get closed() {
            return closed;
          },
          close: () => {
            ws.terminate();
          },
          // ws queues nothing of its own here: frames go to the socket it was upgraded on, in order.
          write: async (frames) => {
            if (closed) return;
            if (socket.write(frames) || socket.writableLength < highWater) return;
            await new Promise<void>((r) => {
              const done = (): void => {
                socket.off('drain', done);
                ws.off('close', done);
                r();
              };
              socket.on('drain', done);
              ws.once('close', done);
            });
          },
        };
        const behaviour = this.#next.shift();
        if (behaviour === undefined) return;
        const run = behaviour(session).catch(() => undefined);
        this.#running.add(run);
        void run.finally(() => this.#running.delete(run));
      });
    });
  }
}

function portOf(server: Server | NetServer): number {
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : 0;
}

export interface FloodOptions {
  readonly streams: number;
  readonly frameBytes: number;
  /** The flood stops at the latest after this long. */
  readonly maxDurationMs: number;
  /** Called with the bytes sent so far, between batches (to sample memory while flooding). */
  readonly onBatch?: (sentBytes: number) => void;
}

/**
 * The flood of issue 13 #7: one Resume, N streams to a target that never reads, Data for all of them
 * whatever the agent answers, until the agent has ended each stream with an Error (or `maxDurationMs`),
 * then every stream ended (Error(EOF) and the target's sockets closed). Counts the payload bytes sent.
 */
export function flood(parent: HostileParent, o: FloodOptions, sent: { bytes: number }): Behaviour {
  return async (session) => {
    const connect = Buffer.from(`tcp/${parent.target}`);
    const opening = [wsFrame(encodeFrame(1, 0, MessageType.Resume))];
    for (let c = 1; c <= o.streams; c++) opening.push(wsFrame(encodeFrame(1, c, MessageType.Connect, connect)));
    await session.write(Buffer.concat(opening));
    const payload = Buffer.alloc(o.frameBytes, 0x5a);
    const perStream = Array.from({ length: o.streams }, (_, i) =>
      wsFrame(encodeFrame(2, i + 1, MessageType.Data, payload)),
    );
    // Batches of about 256 KiB, whole frames, every stream in turn.
    const perBatch = Math.max(1, Math.floor((256 * 1024) / (o.frameBytes + 32)));
    const end = performance.now() + o.maxDurationMs;
    const allEnded = (): boolean => session.log.errors.size >= o.streams;
    let c = 0;
    while (performance.now() < end && !session.closed && !allEnded()) {
      const batch: Buffer[] = [];
      for (let i = 0; i < perBatch; i++) batch.push(perStream[c++ % o.streams] ?? Buffer.alloc(0));
      await session.write(Buffer.concat(batch));
      sent.bytes += perBatch * o.frameBytes;
      o.onBatch?.(sent.bytes);
      // Let the timers and the agent's replies in now and then.
      if (c % (perBatch * 16) < perBatch) await new Promise((r) => setImmediate(r));
    }
    const ends: Buffer[] = [];
    for (let i = 1; i <= o.streams; i++) ends.push(wsFrame(encodeFrame(3, i, MessageType.Error, Buffer.from('EOF'))));
    await session.write(Buffer.concat(ends));
    parent.closeTargets();
  };
}

/** `count` Connects written in one piece, the i-th to `targetOf(i)`, connIDs from 1. */
export function connectBurst(count: number, targetOf: (i: number) => string): Behaviour {
  return async (session) => {
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      frames.push(wsFrame(encodeFrame(i + 1, i + 1, MessageType.Connect, Buffer.from(targetOf(i)))));
    }
    await session.write(Buffer.concat(frames));
  };
}
