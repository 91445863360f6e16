import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { dialAllowed, dialAllowList, normaliseAddress } from '../../../src/tunnel/dial-allow-list.ts';
import { decodeFrame, encodeFrame, errorText, MessageType } from '../../../src/tunnel/frame-codec.ts';
import { StreamRelay, type MessageTransport } from '../../../src/tunnel/stream-relay.ts';
import { eventually } from '../../env/eventually.ts';

interface Sent {
  readonly connId: number;
  readonly type: number;
  readonly payload: Buffer;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A loopback TCP server; `onConn` gets each accepted socket. */
async function listen(onConn: (s: Socket) => void): Promise<string> {
  const srv = createServer(onConn);
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  return `127.0.0.1:${String(typeof a === 'object' && a !== null ? a.port : 0)}`;
}

function relayWith(allowed: readonly string[]) {
  const sent: Sent[] = [];
  const events: string[] = [];
  const transport: MessageTransport = {
    send: (message, done) => {
      const d = decodeFrame(Buffer.from(message)); // copied before returning, as the contract says
      if (d.ok) sent.push({ connId: d.frame.connId, type: d.frame.type, payload: Buffer.from(d.frame.payload) });
      setImmediate(done);
    },
    pauseReading: () => events.push('pauseReading'),
    resumeReading: () => events.push('resumeReading'),
    fail: (reason) => events.push(`fail: ${reason}`),
  };
  const relay = new StreamRelay(transport, dialAllowList('https://127.0.0.1:6443', allowed), pino({ level: 'silent' }));
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
    ['garbage', false],
  ])('child apiserver + extras: %s → %s', (address, allowed) => {
    const list = dialAllowList('https://127.0.0.1:6443', ['extra.example:8080', '[::1]:9000']);
    expect(dialAllowed(list, 'tcp', address)).toBe(allowed);
  });

  it('only tcp networks; * allows every address', () => {
    const all = dialAllowList('https://child:443', ['*']);
    expect(dialAllowed(all, 'tcp', '203.0.113.9:22')).toBe(true);
    expect(dialAllowed(all, 'udp', '203.0.113.9:53')).toBe(false);
    expect(dialAllowed(dialAllowList('https://child', []), 'tcp', 'child:443')).toBe(true);
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
    const chunk = Buffer.alloc(256 * 1024, 1);
    for (let i = 0; i < 40 && r.of(2, MessageType.Pause).length === 0; i++) {
      r.push(2, MessageType.Data, chunk);
      await new Promise((res) => setImmediate(res));
    }
    expect(r.of(2, MessageType.Pause)).toHaveLength(1);
    expect(r.of(2, MessageType.Resume)).toHaveLength(0);
    reader?.resume();
    await eventually('resumed', () => Promise.resolve(r.of(2, MessageType.Resume)[0]), { timeoutMs: 10_000 });
    expect(r.events).toEqual([]); // the reader is never held for one slow stream
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
});
