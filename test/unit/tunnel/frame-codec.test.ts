import { describe, expect, it } from 'vitest';
import {
  decodeConnectionIds,
  decodeFrame,
  encodeConnectionIds,
  encodeFrame,
  errorPayload,
  errorText,
  maxHeaderLength,
  MessageType,
  messageIdCounter,
  parseConnectTarget,
  readVarint,
  varintLength,
  writeHeaderBefore,
  writeVarint,
} from '../../../src/tunnel/frame-codec.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('Go signed varints', () => {
  it.each([
    [0, '00'],
    [1, '02'],
    [-1, '01'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [15000, 'b0ea01'],
    [12345, 'f2c001'],
    [2 ** 31, '8080808010'],
    [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'],
    [-Number.MAX_SAFE_INTEGER, 'fdffffffffffff1f'],
  ])('%d ⇄ %s', (n, bytes) => {
    const buf = Buffer.alloc(10);
    const end = writeVarint(buf, 0, n);
    expect(buf.subarray(0, end).toString('hex')).toBe(bytes);
    expect(varintLength(n)).toBe(end);
    expect(readVarint(hex(bytes), 0)).toEqual({ value: n, unsafe: false, next: end });
  });

  it('reads int64 extremes (10 bytes) as unsafe instead of failing', () => {
    const maxInt64 = readVarint(hex('feffffffffffffffff01'), 0);
    expect(maxInt64).toMatchObject({ unsafe: true, next: 10 });
    const minInt64 = readVarint(hex('ffffffffffffffffff01'), 0);
    expect(minInt64).toMatchObject({ unsafe: true, next: 10 });
  });

  it.each([
    ['runs past 10 bytes', 'ffffffffffffffffff8001'],
    ['10th byte beyond 64 bits', 'ffffffffffffffffff02'],
  ])('overflow: %s', (_name, bytes) => {
    expect(readVarint(hex(bytes), 0)).toBe('overflow');
  });

  // A reference decoder in BigInt: the codec gathers the bits in two doubles instead (remotedialer's
  // message IDs start at a random 63-bit number, so most messages carry such long varints).
  const zigzagBytes = (n: bigint): Buffer => {
    let u = n >= 0n ? n << 1n : (-n << 1n) - 1n;
    const out: number[] = [];
    while (u >= 128n) {
      out.push(Number(u & 127n) | 0x80);
      u >>= 7n;
    }
    out.push(Number(u));
    return Buffer.from(out);
  };
  const safe = BigInt(Number.MAX_SAFE_INTEGER);

  it.each([
    2n ** 53n - 1n,
    -(2n ** 53n - 1n),
    2n ** 53n,
    -(2n ** 53n),
    2n ** 62n + 12345n,
    -(2n ** 62n) - 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    0x5deece66dn,
    2n ** 28n - 1n,
    2n ** 28n,
    -(2n ** 27n) - 1n,
  ])('%d: the same value, safety and length as a BigInt decoder', (n) => {
    const bytes = zigzagBytes(n);
    const mag = n < 0n ? -n : n;
    const got = readVarint(bytes, 0);
    expect(got).toEqual({ value: Number(n), unsafe: mag > safe, next: bytes.length });
  });

  it('random 64-bit values decode as a BigInt decoder does', () => {
    let x = 0x2545f4914f6cdd1dn;
    for (let i = 0; i < 20000; i++) {
      // xorshift64 over the full int64 range
      x ^= (x << 13n) & 0xffffffffffffffffn;
      x ^= x >> 7n;
      x ^= (x << 17n) & 0xffffffffffffffffn;
      const n = BigInt.asIntN(64, x >> BigInt(i % 40));
      const bytes = zigzagBytes(n);
      const got = readVarint(bytes, 0);
      const mag = n < 0n ? -n : n;
      expect(got).toEqual({ value: Number(n), unsafe: mag > safe, next: bytes.length });
    }
  });

  it('decodes a Data frame with a 63-bit message ID (as remotedialer sends them)', () => {
    const id = 2n ** 62n + 987654321n;
    const message = Buffer.concat([zigzagBytes(id), hex('04 02 b0ea01'), ascii('hi')]);
    expect(decodeFrame(message)).toMatchObject({
      ok: true,
      frame: { messageId: Number(id), connId: 2, type: MessageType.Data, payload: ascii('hi') },
    });
  });

  it('undefined when the bytes end inside a varint', () => {
    expect(readVarint(hex('80'), 0)).toBeUndefined();
    expect(readVarint(hex(''), 0)).toBeUndefined();
  });
});

describe('frames: the byte examples of spec §5.4', () => {
  it.each([
    [
      'Connect, id 12345, conn 2',
      12345,
      2,
      MessageType.Connect,
      ascii('tcp/10.96.0.1:443'),
      'f2c001 04 04 b0ea01 7463702f31302e39362e302e313a343433',
    ],
    ['Data, id 7, conn 2, "hi"', 7, 2, MessageType.Data, ascii('hi'), '0e 04 02 b0ea01 6869'],
    ['Error, id 8, conn 2, EOF', 8, 2, MessageType.Error, ascii('EOF'), '10 04 06 454f46'],
    ['Pause, id 9, conn 2', 9, 2, MessageType.Pause, undefined, '12 04 0c'],
  ] as const)('%s', (_name, id, conn, type, payload, bytes) => {
    const encoded = encodeFrame(id, conn, type, payload);
    expect(encoded.toString('hex')).toBe(hex(bytes).toString('hex'));
    const decoded = decodeFrame(encoded);
    expect(decoded).toMatchObject({ ok: true, frame: { messageId: id, connId: conn, type } });
    if (decoded.ok) expect(Buffer.from(decoded.frame.payload).toString('hex')).toBe(payload?.toString('hex') ?? '');
  });
});

describe('frames: round trips', () => {
  const sizes = [0, 1, 127, 128, 32 * 1024, 1024 * 1024 + 3];
  for (const type of Object.values(MessageType)) {
    for (const size of sizes) {
      it(`type ${String(type)}, ${String(size)} payload bytes`, () => {
        const payload = Buffer.alloc(size, size % 251);
        const id = 2 ** 40 + size;
        const decoded = decodeFrame(encodeFrame(id, 1234567, type, payload));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(decoded.frame.messageId).toBe(id);
        expect(decoded.frame.connId).toBe(1234567);
        expect(decoded.frame.type).toBe(type);
        expect(Buffer.from(decoded.frame.payload).equals(payload)).toBe(true);
      });
    }
  }

  it('a message ID near 2^63 from a Go peer is tolerated', () => {
    // id = 2^62 written by Go: zig-zag 2^63 → 10 bytes
    const goId = hex('80808080808080808001');
    const rest = hex('04 02 b0ea01 6869');
    const decoded = decodeFrame(Buffer.concat([goId, rest]));
    expect(decoded).toMatchObject({ ok: true, frame: { connId: 2, type: MessageType.Data } });
  });
});

describe('frames: malformed input', () => {
  it.each([
    ['empty message', '', 'truncated'],
    ['only a message ID', '0e', 'truncated'],
    ['ends inside connID', '0e 80', 'truncated'],
    ['no message type', '0e 04', 'truncated'],
    ['Data without its deadline', '0e 04 02', 'truncated'],
    ['Connect ends inside its deadline', '0e 04 04 b0', 'truncated'],
    ['message ID overflows', 'ffffffffffffffffff8001 04 02 b0ea01', 'varintOverflow'],
    ['connID overflows', '0e ffffffffffffffffff02 02 b0ea01', 'varintOverflow'],
    ['connID beyond 2^53', '0e feffffffffffffffff01 02 b0ea01', 'connIdOutOfRange'],
    ['message type beyond 2^53', '0e 04 feffffffffffffffff01', 'connIdOutOfRange'],
  ])('%s → %s', (_name, bytes, reason) => {
    const decoded = decodeFrame(hex(bytes));
    expect(decoded).toMatchObject({ ok: false, reason });
  });

  it('an unknown message type decodes (the session decides to ignore it), with no deadline field', () => {
    const decoded = decodeFrame(hex('0e 04 7e 6869'));
    expect(decoded).toMatchObject({ ok: true, frame: { messageId: 7, connId: 2, type: 63 } });
    if (decoded.ok) expect(Buffer.from(decoded.frame.payload).toString()).toBe('hi');
  });

  it.each([
    ['tcp/10.0.0.1:443', { network: 'tcp', address: '10.0.0.1:443' }],
    ['tcp/unix/socket', { network: 'tcp', address: 'unix/socket' }],
    ['tcp', undefined],
    ['/10.0.0.1:443', undefined],
    ['tcp/', undefined],
    ['', undefined],
    [`tcp/${'a'.repeat(300)}`, undefined],
  ])('Connect target %j', (text, want) => {
    expect(parseConnectTarget(ascii(text))).toEqual(want);
  });

  it('Error texts are cut to the 100 bytes Go reads', () => {
    expect(errorText(ascii('EOF'))).toBe('EOF');
    expect(errorText(ascii('x'.repeat(500)))).toHaveLength(100);
    expect(errorPayload('y'.repeat(300))).toHaveLength(100);
    expect(errorPayload('connect not allowed').toString()).toBe('connect not allowed');
  });
});

describe('SyncConnections payload and message IDs', () => {
  it('round-trips connection IDs as little-endian uint64', () => {
    const ids = [2, 3, 2 ** 40];
    const payload = encodeConnectionIds(ids);
    expect(payload.subarray(0, 8).toString('hex')).toBe('0200000000000000');
    expect(decodeConnectionIds(payload)).toEqual(ids);
    expect(decodeConnectionIds(payload.subarray(0, 7))).toBeUndefined();
  });

  it('message IDs count up from the start and stay safe integers', () => {
    const next = messageIdCounter(41);
    expect([next(), next()]).toEqual([42, 43]);
    const wrap = messageIdCounter(Number.MAX_SAFE_INTEGER - 1);
    const a = wrap();
    expect(Number.isSafeInteger(a)).toBe(true);
    expect(wrap()).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
  });
});

describe('headers written in place before a payload', () => {
  it.each([
    [7, 2, MessageType.Data],
    [2 ** 50 + 3, 123_456_789, MessageType.Data],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, MessageType.Connect],
    [9, 2, MessageType.Pause],
  ])('id %d conn %d type %d: same bytes as encodeFrame', (id, conn, type) => {
    const payload = Buffer.from('payload bytes');
    const buf = Buffer.alloc(maxHeaderLength + payload.length, 0xaa);
    payload.copy(buf, maxHeaderLength);
    const start = writeHeaderBefore(buf, maxHeaderLength, id, conn, type);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(buf.subarray(start).toString('hex')).toBe(encodeFrame(id, conn, type, payload).toString('hex'));
  });
});
