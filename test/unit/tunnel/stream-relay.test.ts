import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { splitHostPort } from '../../../src/net/address.ts';
import { dialAllowList, dialTarget, normaliseAddress } from '../../../src/tunnel/dial-allow-list.ts';
import { decodeFrame, encodeFrame, errorText, MessageType } from '../../../src/tunnel/frame-codec.ts';
import {
  defaultRelayLimits,
  StreamRelay,
  type MessageTransport,
  type RelayLimits,
} from '../../../src/tunnel/stream-relay.ts';
import { eventually } from '../../env/eventually.ts';

interface Sent {
  readonly connId: number;
  readonly type: number;
  readonly payload: Buffer;
  /** The relay's unwritten parent → target bytes when this was sent. */
  readonly inbound: number;
}

const servers: Server[] = [];
const accepted: Socket[] = [];
/** Every message any relay of a test sent. */
const sentByAll: Sent[] = [];
afterEach(async () => {
  // Spec §5.4: an agent never sends Connect (the hub would end the session) nor AddClient/RemoveClient.
  const forbidden: number[] = [MessageType.Connect, MessageType.AddClient, MessageType.RemoveClient];
  expect(sentByAll.splice(0).filter((m) => forbidden.includes(m.type))).toEqual([]);
  for (const s of accepted.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A loopback TCP server; `onConn` gets each accepted socket. */
async function listen(onConn: (s: Socket) => void): Promise<string> {
  const srv = createServer((s) => {
    accepted.push(s);
    onConn(s);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  return `127.0.0.1:${String(typeof a === 'object' && a !== null ? a.port : 0)}`;
}

function relayWith(allowed: readonly string[], limits: Partial<RelayLimits> = {}) {
  const sent: Sent[] = [];
  const events: string[] = [];
  let inbound = (): number => 0;
  const transport: MessageTransport = {
    send: (message, done) => {
      const d = decodeFrame(Buffer.from(message)); // copied before returning, as the contract says
      if (d.ok) {
        const { connId, type, payload } = d.frame;
        const m = { connId, type, payload: Buffer.from(payload), inbound: inbound() };
        sent.push(m);
        sentByAll.push(m);
      }
      setImmediate(done);
    },
    pauseReading: () => events.push('pauseReading'),
    resumeReading: () => events.push('resumeReading'),
    fail: (reason) => events.push(`fail: ${reason}`),
  };
  const relay = new StreamRelay(
    transport,
    dialAllowList('https://127.0.0.1:6443', allowed),
    pino({ level: 'silent' }),
    {
      ...defaultRelayLimits,
      ...limits,
    },
  );
  inbound = () => relay.stats.inboundBytes;
  const data = (connId: number): Buffer =>
    Buffer.concat(sent.filter((m) => m.connId === connId && m.type === MessageType.Data).map((m) => m.payload));
  const of = (connId: number, type: number): Sent[] => sent.filter((m) => m.connId === connId && m.type === type);
  const push = (connId: number, type: number, payload?: Buffer | string): void => {
    relay.receive(encodeFrame(1, connId, type, typeof payload === 'string' ? Buffer.from(payload) : payload), true);
  };
  return { relay, sent, events, data, of, push };
}

describe('dial allow-list', () => {
  it.each([
    ['127.0.0.1:6443', true],
    ['localhost:6443', true],
    ['LOCALHOST:6443', true],
    ['127.0.0.1:6444', false],
    ['10.0.0.1:6443', false],
    ['extra.example:8080', true],
    ['[::1]:9000', true],
    ['[::1]:09000', true],
    ['garbage', false],
    [' 127.0.0.1:6443', false], // dialed as given: the host " 127.0.0.1" is not the listed one
    ['127.0.0.1:6443 ', false],
  ])('child apiserver + extras: %s → %s', (address, allowed) => {
    const list = dialAllowList('https://127.0.0.1:6443', ['extra.example:8080', '[::1]:9000']);
    expect(dialTarget(list, 'tcp', address).ok).toBe(allowed);
  });

  it('only tcp networks; * allows every address', () => {
    const all = dialAllowList('https://child:443', ['*']);
    expect(dialTarget(all, 'tcp', '203.0.113.9:22')).toEqual({
      ok: true,
      host: '203.0.113.9',
      port: 22,
      family: undefined,
    });
    expect(dialTarget(all, 'udp', '203.0.113.9:53')).toMatchObject({ ok: false, reason: 'connect not allowed' });
    expect(dialTarget(dialAllowList('https://child', []), 'tcp', 'child:443').ok).toBe(true);
  });

  // Under `*` nothing filters the address before the dial: each must be refused with Go's text.
  it.each([
    ['tcp', 'foo', 'dial tcp: address foo: missing port in address'],
    ['tcp', 'host:99999', 'dial tcp: address 99999: invalid port'],
    ['tcp', '[::1]:-1', 'dial tcp: address -1: invalid port'],
    ['tcp', 'host:0', 'dial tcp: address 0: invalid port'],
    ['tcp', 'host:', 'dial tcp: address : invalid port'],
    ['tcp', 'host:http', 'dial tcp: lookup tcp/http: unknown port'],
    ['tcp', '[::1]', 'dial tcp: address [::1]: missing port in address'],
    ['tcp', '::1:80', 'dial tcp: address ::1:80: too many colons in address'],
    ['tcp', '[::1:80', "dial tcp: address [::1:80: missing ']' in address"],
    ['tcp', '[::1]x:80', 'dial tcp: address [::1]x:80: missing port in address'],
    ['tcp', 'a]b:80', "dial tcp: address a]b:80: unexpected ']' in address"],
    ['tcp4', '[::1]:443', 'dial tcp4: address ::1: no suitable address found'],
    ['tcp6', '127.0.0.1:443', 'dial tcp6: address 127.0.0.1: no suitable address found'],
  ])('under *: %s/%s is refused with %j', (network, address, reason) => {
    expect(dialTarget(dialAllowList('https://child:443', ['*']), network, address)).toEqual({
      ok: false,
      reason,
      kind: 'bad-address',
    });
  });

  it.each([
    ['tcp', '[::1]:443', { host: '::1', port: 443, family: undefined }],
    ['tcp4', '127.0.0.1:443', { host: '127.0.0.1', port: 443, family: 4 }],
    ['tcp6', '[::1]:443', { host: '::1', port: 443, family: 6 }],
    ['tcp6', 'child.example:443', { host: 'child.example', port: 443, family: 6 }],
    ['tcp', '[fe80::1%lo]:80', { host: 'fe80::1%lo', port: 80, family: undefined }],
  ])('under *: %s/%s is dialed as %j', (network, address, want) => {
    expect(dialTarget(dialAllowList('https://child:443', ['*']), network, address)).toEqual({ ok: true, ...want });
  });

  it('splitHostPort keeps the host of a bracketed address without its brackets', () => {
    expect(splitHostPort('[::1]:80')).toEqual({ host: '::1', port: '80' });
    expect(splitHostPort(':80')).toEqual({ host: '', port: '80' });
  });

  it.each([
    ['Host:80', 'host:80'],
    ['[FE80::1]:443', 'fe80::1:443'],
    ['host:0', undefined],
    ['host:70000', undefined],
    [':80', undefined],
  ])('normaliseAddress(%s)', (a, want) => {
    expect(normaliseAddress(a)).toBe(want);
  });
});

describe('stream relay', () => {
  it('dials an allowed target and relays both ways; the target closing sends Error(c, EOF)', async () => {
    const target = await listen((s) => {
      s.once('data', (d) => {
        s.end(Buffer.concat([Buffer.from('echo:'), d]));
      });
    });
    const r = relayWith([target]);
    r.push(2, MessageType.Connect, `tcp/${target}`);
    r.push(2, MessageType.Data, 'hello'); // before the dial completes: buffered, written first
    await eventually('EOF', () => Promise.resolve(r.of(2, MessageType.Error).length > 0 ? true : undefined));
    expect(r.data(2).toString()).toBe('echo:hello');
    expect(r.of(2, MessageType.Error).map((m) => m.payload.toString())).toEqual(['EOF']);
    expect(r.relay.stats).toMatchObject({ streams: 0, opened: 1, refused: 0 });
  });

  it('refuses a target outside the allow-list with Error(c) and opens nothing', () => {
    const r = relayWith([]);
    r.push(3, MessageType.Connect, 'tcp/203.0.113.5:22');
    r.push(4, MessageType.Connect, 'udp/127.0.0.1:6443');
    r.push(5, MessageType.Connect, 'garbage');
    expect(r.sent.map((m) => [m.connId, m.type, errorText(m.payload)])).toEqual([
      [3, MessageType.Error, 'connect not allowed'],
      [4, MessageType.Error, 'connect not allowed'],
      [5, MessageType.Error, 'failed to parse connect address'],
    ]);
    expect(r.relay.stats).toMatchObject({ streams: 0, opened: 0, refused: 3 });
    expect(r.events).toEqual([]);
  });

  it('under *, an address Node cannot dial is refused for that stream, never thrown', () => {
    const r = relayWith(['*']);
    r.push(2, MessageType.Connect, 'tcp/foo');
    r.push(3, MessageType.Connect, 'tcp/host:99999');
    r.push(4, MessageType.Connect, 'tcp/[::1]:-1');
    r.push(5, MessageType.Connect, 'tcp/a\0b:80'); // Node throws on a NUL in the host
    r.push(6, MessageType.Connect, 'tcp4/[::1]:80');
    expect(r.sent.map((m) => [m.connId, m.type, errorText(m.payload)])).toEqual([
      [2, MessageType.Error, 'dial tcp: address foo: missing port in address'],
      [3, MessageType.Error, 'dial tcp: address 99999: invalid port'],
      [4, MessageType.Error, 'dial tcp: address -1: invalid port'],
      [5, MessageType.Error, expect.stringMatching(/^dial tcp a\0b:80: /)],
      [6, MessageType.Error, 'dial tcp4: address ::1: no suitable address found'],
    ]);
    expect(r.relay.stats).toMatchObject({ streams: 0, opened: 0, refused: 5 });
    expect(r.events).toEqual([]);
  });

  it('tcp6 dials the IPv6 address of a name, not its IPv4 one', async () => {
    const target = await listen(() => undefined); // 127.0.0.1 only
    const port = target.split(':')[1] ?? '';
    const r = relayWith(['*']);
    r.push(2, MessageType.Connect, `tcp4/localhost:${port}`);
    r.push(3, MessageType.Connect, `tcp6/localhost:${port}`);
    await eventually('the tcp6 dial fails', () => Promise.resolve(r.of(3, MessageType.Error)[0]));
    expect(errorText(r.of(3, MessageType.Error)[0]?.payload ?? Buffer.alloc(0))).toMatch(
      new RegExp(`^dial tcp6 localhost:${port}: `),
    );
    expect(r.of(2, MessageType.Error)).toEqual([]); // tcp4 reached the IPv4 listener
    r.relay.close();
  });

  it('a failed dial answers with Go-style error text', async () => {
    const closed = await listen(() => undefined);
    await new Promise((res) => servers.pop()?.close(res));
    const r = relayWith([closed]);
    r.push(2, MessageType.Connect, `tcp/${closed}`);
    await eventually('dial error', () => Promise.resolve(r.of(2, MessageType.Error)[0]));
    expect(errorText(r.of(2, MessageType.Error)[0]?.payload ?? Buffer.alloc(0))).toBe(
      `dial tcp ${closed}: connect: connection refused`,
    );
  });

  it('answers Data for an unknown stream, ignores Error/Pause/Resume/unknown types for one', () => {
    const r = relayWith([]);
    r.push(9, MessageType.Data, 'x');
    r.push(10, MessageType.Error, 'EOF');
    r.push(11, MessageType.Pause);
    r.push(12, MessageType.Resume);
    r.push(13, 42, 'what');
    r.push(0, MessageType.SyncConnections, Buffer.alloc(8));
    expect(r.sent.map((m) => [m.connId, m.type, errorText(m.payload)])).toEqual([
      [9, MessageType.Error, 'connection not found client/0/9'],
    ]);
    expect(r.events).toEqual([]);
  });

  it('logs each kind of oddity once, whatever values a hostile parent varies; data for an unknown stream at debug', () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(l) });
    const once = new Set<string>();
    const transport: MessageTransport = {
      send: (_m, done) => {
        setImmediate(done);
      },
      pauseReading: () => undefined,
      resumeReading: () => undefined,
      fail: () => undefined,
    };
    const relay = new StreamRelay(
      transport,
      dialAllowList('https://127.0.0.1:6443', []),
      log,
      defaultRelayLimits,
      Math.random,
      once,
    );
    for (let i = 0; i < 500; i++) {
      relay.receive(encodeFrame(1, 2, 100 + i), true); // unknown types
      relay.receive(
        encodeFrame(1, 3 + i, MessageType.Connect, Buffer.from(`tcp/10.0.${String(i >> 8)}.${String(i & 255)}:1`)),
        true,
      );
      relay.receive(encodeFrame(1, 3 + i, MessageType.Data, Buffer.from('x')), true);
    }
    expect(once.size).toBe(3);
    // Data for an unknown stream is what the hub sends when it closes an idle connection as the target
    // does (issue 13 #14): normal, so at debug (level 20), not warn (40).
    expect(lines.map((l) => JSON.parse(l) as { msg: string; level: number }).map((l) => [l.level, l.msg])).toEqual([
      [40, 'ignoring a message of unknown type'],
      [40, 'refused a dial: connect not allowed'],
      [20, 'data for an unknown stream; answering with an error'],
    ]);
  });

  it('answers every refused Connect of a burst while the parent reads (issue 13 #10)', async () => {
    const r = relayWith([]);
    for (let i = 0; i < 11_000; i++) r.push(2 + i, MessageType.Connect, 'tcp/203.0.113.1:1');
    await eventually('every reply written', () =>
      Promise.resolve(r.relay.stats.outstandingBytes === 0 ? true : undefined),
    );
    expect(r.sent.filter((m) => m.type === MessageType.Error)).toHaveLength(11_000);
    expect(new Set(r.sent.map((m) => m.connId)).size).toBe(11_000);
    expect(r.relay.stats).toMatchObject({ refused: 11_000, repliesQueued: 0, repliesDropped: 0 });
  });

  it('queues error replies while the parent does not read, holds the reader past a mark, drops only past the queue', () => {
    const dones: (() => void)[] = [];
    const sent: number[] = [];
    const events: string[] = [];
    const transport: MessageTransport = {
      send: (m, done) => {
        const d = decodeFrame(m);
        if (d.ok) sent.push(d.frame.connId);
        dones.push(done); // the parent reads nothing: nothing is written out until it does
      },
      pauseReading: () => events.push('pauseReading'),
      resumeReading: () => events.push('resumeReading'),
      fail: () => undefined,
    };
    const relay = new StreamRelay(transport, dialAllowList('https://127.0.0.1:6443', []), pino({ level: 'silent' }), {
      ...defaultRelayLimits,
      outboundHighBytes: 4096,
      outboundLowBytes: 1024,
      replyQueueHoldAbove: 100,
      maxQueuedReplies: 200,
    });
    for (let i = 0; i < 1000; i++) {
      relay.receive(encodeFrame(1, 2 + i, MessageType.Connect, Buffer.from('tcp/203.0.113.1:1')), true);
    }
    // Sent until 4 KiB were unwritten, then queued; the reader held past 100 queued; past 200 dropped.
    const first = sent.length;
    expect(first).toBeGreaterThan(4096 / 40);
    expect(first).toBeLessThan(4096 / 20);
    expect(events).toEqual(['pauseReading']);
    expect(relay.stats).toMatchObject({ repliesQueued: 200, repliesDropped: 1000 - first - 200 });
    // The parent reads: the queue goes out in order, and the reader is released once half has gone.
    for (let round = 0; round < 20 && dones.length > 0; round++) for (const d of dones.splice(0)) d();
    expect(sent).toEqual(Array.from({ length: first + 200 }, (_, i) => 2 + i));
    expect(events).toEqual(['pauseReading', 'resumeReading']);
    expect(relay.stats).toMatchObject({ repliesQueued: 0, outstandingBytes: 0 });
  });

  it.each([
    [
      'a text message',
      (rl: StreamRelay) => {
        rl.receive(Buffer.from('hi'), false);
      },
      'fail: text message from the parent',
    ],
    [
      'a truncated header',
      (rl: StreamRelay) => {
        rl.receive(Buffer.from([0x0e, 0x04]), true);
      },
      'fail: malformed message',
    ],
  ])('%s ends the session', (_n, feed, want) => {
    const r = relayWith([]);
    feed(r.relay);
    expect(r.events[0]).toContain(want);
    r.push(9, MessageType.Data, 'after'); // closed: nothing more is sent
    expect(r.sent).toEqual([]);
  });

  it('pauses the parent when a target does not read, resumes once it drains', async () => {
    let reader: Socket | undefined;
    const target = await listen((s) => {
      reader = s;
      s.pause();
    });
    const r = relayWith([target]);
    r.push(2, MessageType.Connect, `tcp/${target}`);
    await eventually('accepted', () => Promise.resolve(reader));
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 160 && r.of(2, MessageType.Pause).length === 0; i++) {
      r.push(2, MessageType.Data, chunk);
      await new Promise((res) => setImmediate(res));
    }
    expect(r.of(2, MessageType.Pause)).toHaveLength(1);
    expect(r.of(2, MessageType.Resume)).toHaveLength(0);
    reader?.resume();
    await eventually('resumed', () => Promise.resolve(r.of(2, MessageType.Resume)[0]), { timeoutMs: 10_000 });
    // At the low-water mark (spec §5.5.8), with the last chunks still on their way: not only once empty.
    const atResume = r.of(2, MessageType.Resume)[0]?.inbound ?? 0;
    expect(atResume).toBeGreaterThan(0);
    expect(atResume).toBeLessThanOrEqual(256 * 1024);
    expect(r.events).toEqual([]); // the reader is never held for one slow stream
    r.relay.close();
  });

  /** A target that accepts and does not read until `read()`. */
  async function slowTarget(): Promise<{ address: string; read: () => void; got: () => number }> {
    let socket: Socket | undefined;
    let got = 0;
    const address = await listen((s) => {
      socket = s;
      s.pause();
      s.on('data', (d: Buffer) => (got += d.length));
    });
    return {
      address,
      read: () => socket?.resume(),
      got: () => got,
    };
  }

  const chunk64k = Buffer.alloc(64 * 1024, 3);
  const tick = (): Promise<void> => new Promise((res) => setImmediate(res));

  it('ends a stream whose parent goes on sending after Pause, once it holds streamBufferLimitBytes', async () => {
    const slow = await slowTarget();
    const r = relayWith(['*'], { pauseAboveBytes: 256 * 1024, streamBufferLimitBytes: 4 * 1024 * 1024 });
    r.push(99, MessageType.Pause); // the parent knows Pause: the reader is never held for it
    r.push(2, MessageType.Connect, `tcp/${slow.address}`);
    for (let i = 0; i < 256 && r.of(2, MessageType.Error).length === 0; i++) {
      r.push(2, MessageType.Data, chunk64k);
      if (i % 8 === 0) await tick();
    }
    expect(r.of(2, MessageType.Pause).length).toBeGreaterThan(0);
    expect(r.of(2, MessageType.Error).map((m) => errorText(m.payload))).toEqual([
      'tunnel: too much data buffered for the stream',
    ]);
    expect(r.relay.stats.streams).toBe(0);
    await eventually('its bytes released', () => Promise.resolve(r.relay.stats.inboundBytes === 0 ? true : undefined));
    r.push(2, MessageType.Data, chunk64k); // now unknown
    expect(errorText(r.of(2, MessageType.Error)[1]?.payload ?? Buffer.alloc(0))).toBe(
      'connection not found client/0/2',
    );
    expect(r.events).toEqual([]);
    r.relay.close();
  });

  it('above sessionPauseAboveBytes in all, pauses any stream that gets Data; beyond the session limit ends it', async () => {
    const a = await slowTarget();
    const b = await slowTarget();
    const r = relayWith(['*'], {
      sessionPauseAboveBytes: 2 * 1024 * 1024,
      sessionResumeBelowBytes: 1024 * 1024,
      sessionBufferLimitBytes: 4 * 1024 * 1024,
    });
    r.push(99, MessageType.Resume); // the parent knows Pause
    r.push(2, MessageType.Connect, `tcp/${a.address}`);
    r.push(3, MessageType.Connect, `tcp/${b.address}`);
    for (let i = 0; i < 24; i++) r.push(2, MessageType.Data, chunk64k); // 1.5 MiB: below its own 2 MiB
    expect(r.of(2, MessageType.Pause)).toEqual([]);
    for (let i = 0; i < 16; i++) r.push(3, MessageType.Data, chunk64k); // the session passes 2 MiB
    expect(r.of(3, MessageType.Pause)).toHaveLength(1);
    r.push(2, MessageType.Data, chunk64k);
    expect(r.of(2, MessageType.Pause)).toHaveLength(1);
    for (let i = 0; i < 32 && r.of(3, MessageType.Error).length === 0; i++) r.push(3, MessageType.Data, chunk64k);
    expect(r.of(3, MessageType.Error).map((m) => errorText(m.payload))).toEqual([
      'tunnel: too much data buffered for the stream',
    ]);
    expect(r.relay.stats.streams).toBe(1);
    // Stream 2 drains: resumed once the session is back under its low mark and stream 2 under 256 KiB.
    a.read();
    await eventually('stream 2 resumed', () => Promise.resolve(r.of(2, MessageType.Resume)[0]), { timeoutMs: 10_000 });
    expect(r.of(2, MessageType.Resume)[0]?.inbound).toBeLessThanOrEqual(256 * 1024);
    expect(r.events).toEqual([]);
    r.relay.close();
  });

  it('a parent without Pause has the reader held by a stream past inboundHardLimitBytes, until it drains', async () => {
    const slow = await slowTarget();
    const r = relayWith(['*'], { pauseAboveBytes: 256 * 1024, inboundHardLimitBytes: 1024 * 1024 });
    r.push(2, MessageType.Connect, `tcp/${slow.address}`);
    for (let i = 0; i < 64 && r.events.length === 0; i++) r.push(2, MessageType.Data, chunk64k);
    expect(r.events).toEqual(['pauseReading']);
    expect(r.relay.stats.inboundBytes).toBeGreaterThan(1024 * 1024);
    slow.read();
    await eventually('the reader released', () => Promise.resolve(r.events.length > 1 ? true : undefined));
    expect(r.events).toEqual(['pauseReading', 'resumeReading']);
    expect(r.relay.stats.inboundBytes).toBeLessThanOrEqual(256 * 1024);
    r.relay.close();
  });

  it('a parent without Pause has the reader held while all streams together pass sessionPauseAboveBytes', async () => {
    const targets = await Promise.all([slowTarget(), slowTarget(), slowTarget()]);
    const r = relayWith(['*'], {
      sessionPauseAboveBytes: 2 * 1024 * 1024,
      sessionResumeBelowBytes: 1024 * 1024,
    });
    targets.forEach((t, i) => {
      r.push(2 + i, MessageType.Connect, `tcp/${t.address}`);
    });
    for (let i = 0; i < 48 && r.events.length === 0; i++) r.push(2 + (i % 3), MessageType.Data, chunk64k);
    expect(r.events).toEqual(['pauseReading']); // no stream alone is past 2 MiB
    for (const t of targets) t.read();
    await eventually('the reader released', () => Promise.resolve(r.events.length > 1 ? true : undefined));
    expect(r.events).toEqual(['pauseReading', 'resumeReading']);
    expect(r.relay.stats.inboundBytes).toBeLessThanOrEqual(1024 * 1024);
    r.relay.close();
  });

  it('stops sending a stream the parent paused until it resumes it', async () => {
    let writer: Socket | undefined;
    const target = await listen((s) => {
      writer = s;
    });
    const r = relayWith([target]);
    r.push(2, MessageType.Connect, `tcp/${target}`);
    await eventually('accepted', () => Promise.resolve(writer));
    writer?.write('before');
    await eventually('first bytes', () => Promise.resolve(r.data(2).length > 0 ? true : undefined));
    r.push(2, MessageType.Pause);
    await new Promise((res) => setTimeout(res, 50));
    writer?.write('while paused');
    await new Promise((res) => setTimeout(res, 200));
    expect(r.data(2).toString()).toBe('before');
    r.push(2, MessageType.Resume);
    await eventually('the rest', () =>
      Promise.resolve(r.data(2).toString() === 'beforewhile paused' ? true : undefined),
    );
    r.relay.close();
  });

  it('an Error(c) from the parent closes the target socket after writing what came before', async () => {
    let got = '';
    let ended = false;
    const target = await listen((s) => {
      s.on('data', (d) => (got += d.toString()));
      s.on('end', () => (ended = true));
    });
    const r = relayWith([target]);
    r.push(2, MessageType.Connect, `tcp/${target}`);
    r.push(2, MessageType.Data, 'last words');
    r.push(2, MessageType.Error, 'EOF');
    await eventually('closed', () => Promise.resolve(ended ? true : undefined));
    expect(got).toBe('last words');
    expect(r.of(2, MessageType.Error)).toEqual([]); // no echo needed
  });

  /** TCP handles open in this process: the relay's target sockets among them. */
  const tcpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

  /** A stream to a target that accepts and never reads, its socket holding `bytes` unwritten. */
  async function stuckStream(r: ReturnType<typeof relayWith>, bytes: number): Promise<void> {
    const target = await listen((s) => {
      s.pause();
    });
    r.push(2, MessageType.Connect, `tcp/${target}`);
    const chunk = Buffer.alloc(256 * 1024, 7);
    for (let sent = 0; sent < bytes; sent += chunk.length) r.push(2, MessageType.Data, chunk);
    await eventually('the target accepted', () => Promise.resolve(accepted.length > 0 ? true : undefined));
    await new Promise((res) => setTimeout(res, 100));
  }

  it('a stream the parent closed while its target does not read is closed with the session', async () => {
    const r = relayWith(['*']);
    await stuckStream(r, 8 * 1024 * 1024);
    const open = tcpHandles(); // the relay's socket and the target's end of it among them
    r.push(2, MessageType.Error, 'EOF');
    await new Promise((res) => setTimeout(res, 100));
    expect(tcpHandles()).toBe(open); // still writing out what came before the Error
    expect(r.relay.stats).toMatchObject({ streams: 0, closing: 1 });
    r.relay.close();
    await eventually('the relay socket released', () => Promise.resolve(tcpHandles() === open - 1 ? true : undefined));
    expect(r.relay.stats.closing).toBe(0);
  });

  it('a stream the parent closed is given up once its target stops taking bytes for closingIdleMs', async () => {
    const r = relayWith(['*'], { closingIdleMs: 300 });
    await stuckStream(r, 8 * 1024 * 1024);
    const open = tcpHandles(); // the relay's socket and the target's end of it among them
    r.push(2, MessageType.Error, 'EOF');
    const t0 = performance.now();
    await eventually('the relay socket released', () => Promise.resolve(tcpHandles() === open - 1 ? true : undefined));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(r.relay.stats.closing).toBe(0);
    expect(r.of(2, MessageType.Error)).toEqual([]); // the parent ended it: nothing owed
    r.relay.close();
  });
});
