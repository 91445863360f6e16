// The remotedialer wire format (spec §5.4): one tunnel message per binary websocket message, made of Go
// signed varints `messageID, connID, messageType`, then `deadline` for Data and Connect only (legacy:
// written as 15000, read and ignored), then the payload (every remaining byte).
//
// Both wire variants share this layout. remotedialer v0.3.0 (latest Clusternet) adds Pause(6)/Resume(7);
// the v0.7.0-era library (d1ebd52) does not know them and ignores them; remotedialer ≥ v0.6 also has
// SyncConnections(8), sent by clients only. Decoding never throws: it returns why a message is malformed.

export const MessageType = {
  Data: 1,
  Connect: 2,
  Error: 3,
  AddClient: 4,
  RemoveClient: 5,
  Pause: 6,
  Resume: 7,
  SyncConnections: 8,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

/** What writers put in the legacy deadline field (15 s in milliseconds, as Go does). */
export const legacyDeadlineMs = 15_000;
/** The longest Connect payload a receiver reads (remotedialer ≥ v0.6 reads 266 bytes; older ones 100). */
export const maxConnectPayload = 266;
/** Go receivers read at most 100 bytes of an Error text; writers keep to that. */
export const maxErrorPayload = 100;
/** A Go signed varint (binary.PutVarint) takes 1 to 10 bytes. */
export const maxVarintLength = 10;

export interface Frame {
  /** Ignored by receivers; beyond 2^53 it is only approximate (never used). */
  readonly messageId: number;
  readonly connId: number;
  readonly type: number;
  readonly payload: Uint8Array;
}

export type DecodeResult =
  | { readonly ok: true; readonly frame: Frame }
  | { readonly ok: false; readonly reason: MalformedReason; readonly detail: string };

export type MalformedReason = 'truncated' | 'varintOverflow' | 'connIdOutOfRange';

interface Varint {
  readonly value: number;
  /** The value does not fit a JS safe integer (|n| > 2^53 - 1). */
  readonly unsafe: boolean;
  readonly next: number;
}

// The varint scanner keeps its result here rather than in a new object: the parent's message IDs
// start at a random 63-bit number, so every message carries 9- or 10-byte varints, and decoding them
// is on the path of every byte the tunnel relays.
let scannedValue = 0;
let scannedUnsafe = false;
const truncated = -1;
const overflow = -2;

/**
 * Scans one Go signed varint at `offset` (unsigned LEB128, then zig-zag) into `scannedValue` /
 * `scannedUnsafe`; returns the offset after it, `truncated` when the bytes end first, or `overflow`
 * when it runs past 10 bytes or past 64 bits (as Go's binary.ReadVarint). Exact up to 2^53 - 1 in
 * magnitude; beyond that the value is rounded and flagged unsafe. No BigInt, no allocation: the low
 * 28 bits and the high 36 bits are gathered apart, each exact in a double.
 */
function scanVarint(buf: Uint8Array, offset: number): number {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < maxVarintLength; i++) {
    const b = buf[offset + i];
    if (b === undefined) return truncated;
    // The 10th byte may carry only the 64th bit.
    if (i === maxVarintLength - 1 && b > 1) return overflow;
    if (i < 4) lo += (b & 0x7f) * 2 ** (7 * i);
    else hi += (b & 0x7f) * 2 ** (7 * i - 28);
    if (b < 0x80) {
      // zig-zag: u even → u/2, u odd → -(u+1)/2, with u = hi·2^28 + lo; one rounding at most, so
      // exact below 2^53 and rounded as Number(BigInt) rounds above.
      const odd = lo % 2 === 1;
      const magnitude = hi * 2 ** 27 + (Math.floor(lo / 2) + (odd ? 1 : 0));
      scannedValue = odd ? -magnitude : magnitude;
      scannedUnsafe = magnitude > Number.MAX_SAFE_INTEGER;
      return offset + i + 1;
    }
  }
  return overflow;
}

/**
 * Reads one Go signed varint at `offset`. Undefined when the bytes end first; 'overflow' when it runs
 * past 10 bytes or past 64 bits (as Go's binary.ReadVarint).
 */
export function readVarint(buf: Uint8Array, offset: number): Varint | 'overflow' | undefined {
  const next = scanVarint(buf, offset);
  if (next === truncated) return undefined;
  if (next === overflow) return 'overflow';
  return { value: scannedValue, unsafe: scannedUnsafe, next };
}

/** zig-zag of `n`, exact: as a double below 2^52, else as a BigInt. */
function zigzag(n: number): number | bigint {
  if (Math.abs(n) < 2 ** 52) return n >= 0 ? n * 2 : -n * 2 - 1;
  const b = BigInt(n);
  return b >= 0n ? b << 1n : (-b << 1n) - 1n;
}

/** Bytes of the Go signed varint of `n` (a safe integer). */
export function varintLength(n: number): number {
  let u = zigzag(n);
  let len = 1;
  if (typeof u === 'bigint') {
    while (u >= 128n) {
      u >>= 7n;
      len++;
    }
    return len;
  }
  while (u >= 128) {
    u = Math.floor(u / 128);
    len++;
  }
  return len;
}

/** Writes the Go signed varint of `n` (a safe integer) at `offset`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, offset: number, n: number): number {
  let u = zigzag(n);
  let o = offset;
  if (typeof u === 'bigint') {
    while (u >= 128n) {
      buf[o++] = Number(u & 127n) | 0x80;
      u >>= 7n;
    }
    buf[o++] = Number(u);
    return o;
  }
  while (u >= 128) {
    buf[o++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[o++] = u;
  return o;
}

const hasDeadline = (type: number): boolean => type === MessageType.Data || type === MessageType.Connect;

const fieldNames = ['messageID', 'connID', 'messageType', 'deadline'] as const;

/** Decodes one websocket binary message. The payload is a view into `buf` (no copy). */
export function decodeFrame(buf: Uint8Array): DecodeResult {
  let offset = 0;
  let connId = 0;
  let messageId = 0;
  let type = 0;
  for (let i = 0; i < 4; i++) {
    if (i === 3 && !hasDeadline(type)) break;
    const next = scanVarint(buf, offset);
    const name = fieldNames[i] ?? '';
    if (next === truncated) return { ok: false, reason: 'truncated', detail: `message ends inside ${name}` };
    if (next === overflow) return { ok: false, reason: 'varintOverflow', detail: `${name} overflows 64 bits` };
    if (scannedUnsafe && (i === 1 || i === 2)) {
      return { ok: false, reason: 'connIdOutOfRange', detail: `${name} out of range` };
    }
    if (i === 0) messageId = scannedValue;
    else if (i === 1) connId = scannedValue;
    else if (i === 2) type = scannedValue;
    offset = next;
  }
  return { ok: true, frame: { messageId, connId, type, payload: buf.subarray(offset) } };
}

/** Encodes one message; `payload` is copied behind the header into one buffer. */
export function encodeFrame(messageId: number, connId: number, type: number, payload?: Uint8Array): Buffer {
  const withDeadline = hasDeadline(type);
  const headerLen =
    varintLength(messageId) +
    varintLength(connId) +
    varintLength(type) +
    (withDeadline ? varintLength(legacyDeadlineMs) : 0);
  const out = Buffer.allocUnsafe(headerLen + (payload?.length ?? 0));
  let o = writeVarint(out, 0, messageId);
  o = writeVarint(out, o, connId);
  o = writeVarint(out, o, type);
  if (withDeadline) o = writeVarint(out, o, legacyDeadlineMs);
  if (payload !== undefined) out.set(payload, o);
  return out;
}

/** Room before a payload that always fits a header (three 10-byte varints and the deadline). */
export const maxHeaderLength = 34;

/**
 * Writes a header so that it ends exactly at `end` (where the payload already is) and returns where it
 * starts: a message can be sent from a read buffer without copying the payload.
 */
export function writeHeaderBefore(
  buf: Uint8Array,
  end: number,
  messageId: number,
  connId: number,
  type: number,
): number {
  const withDeadline = hasDeadline(type);
  const len =
    varintLength(messageId) +
    varintLength(connId) +
    varintLength(type) +
    (withDeadline ? varintLength(legacyDeadlineMs) : 0);
  const start = end - len;
  let o = writeVarint(buf, start, messageId);
  o = writeVarint(buf, o, connId);
  o = writeVarint(buf, o, type);
  if (withDeadline) writeVarint(buf, o, legacyDeadlineMs);
  return start;
}

/** A Connect payload `<network>/<address>`, split at the first `/`; undefined when malformed. */
export function parseConnectTarget(payload: Uint8Array): { network: string; address: string } | undefined {
  if (payload.length > maxConnectPayload) return undefined;
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('latin1');
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return undefined;
  return { network: text.slice(0, slash), address: text.slice(slash + 1) };
}

/** The text of an Error payload, cut to what Go receivers read. `EOF` means a clean end of stream. */
export function errorText(payload: Uint8Array): string {
  return Buffer.from(payload.buffer, payload.byteOffset, Math.min(payload.length, maxErrorPayload)).toString('utf8');
}

/** An Error payload: the text cut to 100 bytes so Go receivers see all of it. */
export function errorPayload(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  return b.length <= maxErrorPayload ? b : b.subarray(0, maxErrorPayload);
}

/** SyncConnections payload (remotedialer ≥ v0.6): connection IDs as little-endian uint64s. */
export function encodeConnectionIds(ids: readonly number[]): Buffer {
  const out = Buffer.alloc(ids.length * 8);
  ids.forEach((id, i) => {
    out.writeBigUInt64LE(BigInt(id), i * 8);
  });
  return out;
}

export function decodeConnectionIds(payload: Uint8Array): number[] | undefined {
  if (payload.length % 8 !== 0) return undefined;
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const ids: number[] = [];
  for (let o = 0; o < b.length; o += 8) ids.push(Number(b.readBigInt64LE(o)));
  return ids;
}

/** Per-process message IDs: start anywhere (receivers ignore them), stay a safe integer. */
export function messageIdCounter(start: number): () => number {
  let next = Math.floor(start) % 2 ** 52;
  return () => {
    next = next >= Number.MAX_SAFE_INTEGER ? 1 : next + 1;
    return next;
  };
}
