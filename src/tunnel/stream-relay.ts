// The agent's half of one tunnel session (spec §5.5): serves the parent's Connect requests by dialing
// the target and relaying bytes both ways, one stream per connID, over any message transport (the
// websocket in production). Flow control keeps memory bounded and one slow stream from stalling others;
// its decisions are the pure functions of flow-control.ts:
//
//  - inbound (parent → target): each payload not yet written is charged to its stream and the session
//    (with the buffer it keeps alive and Node's cost per queued write: `chargeFor`). A stream whose
//    charge passes `pauseAboveBytes` is paused with Pause(c) and resumed with Resume(c) once it falls to
//    `resumeBelowBytes` (spec §5.5.8; remotedialer v0.3.0 honours them). When all streams together hold
//    more than `sessionPauseAboveBytes`, every stream that receives Data is paused, and none is resumed
//    before the total falls to `sessionResumeBelowBytes`. A parent that does not know Pause (the
//    v0.7.0-era library ignores it) has the whole websocket reader held instead, while one stream holds
//    `inboundHardLimitBytes` more than when it was paused or the session is above its mark, which is
//    what such a parent expects (its own reader blocks the same way). Never for a parent that has sent
//    Pause or Resume itself: it honours them, and holding the reader would also hold back the Resume
//    the relay may be waiting for. Whatever the parent: Data that would take a stream past
//    `streamBufferLimitBytes`, or the session past `sessionBufferLimitBytes`, ends the stream with an
//    Error instead; so the session never holds more than `sessionBufferLimitBytes`.
//  - outbound (target → parent): a Pause(c) stops reading that stream's socket until Resume(c); and when
//    the websocket itself has more than `outboundHighBytes` unsent, every socket stops being read until
//    it falls under `outboundLowBytes`.
//
// Malformed input (text message, undecodable header) ends the session as the Go library does; anything
// else odd (unknown type, data for an unknown stream, peer-only messages) is answered or ignored per the
// spec and logged once. Answers for streams that do not exist (refused Connects, Data for an unknown
// stream) wait in a queue while the websocket has `outboundHighBytes` unsent; past
// `replyQueueHoldAbove` of them the reader is held until the parent has read half, and only past
// `maxQueuedReplies` (a parent that does not read at all) are more dropped. Nothing here throws at the
// caller.

import { connect, type Socket } from 'node:net';
import type { Logger } from '../logging/logger.ts';
import { dialTarget, type DialAllowList } from './dial-allow-list.ts';
import {
  decodeFrame,
  encodeFrame,
  errorPayload,
  errorText,
  maxHeaderLength,
  MessageType,
  messageIdCounter,
  parseConnectTarget,
  type MalformedReason,
  writeHeaderBefore,
} from './frame-codec.ts';
import { failureMessage } from '../../machines/failure.ts';
import {
  dialingStream,
  inTable,
  isConnected,
  streamStep,
  type StreamEffect,
  type StreamEvent,
  type StreamState,
} from './stream-state.ts';
import {
  chargeFor,
  mayResume,
  onArrival,
  onDrain,
  onReply,
  replyHold,
  type FlowLimits,
  type ReplyLimits,
  type SessionFlow,
  type StreamFlow,
} from './flow-control.ts';

/**
 * What is logged once: a fixed set of kinds, never a value from the parent (an address, a type code),
 * so that a hostile parent cannot grow the set; the first occurrence's details go with the warning.
 */
type OnceKey =
  | 'data-unknown'
  | 'peer-only'
  | 'unknown-type'
  | 'connect-duplicate'
  | 'connect-malformed'
  | 'connect-not-allowed'
  | 'connect-bad-address'
  | 'connect-too-many'
  | 'connect-throw'
  | 'reader-held'
  | 'reader-held-session'
  | 'reader-held-replies'
  | 'inbound-overflow'
  | 'replies-dropped'
  | `fail-${MalformedReason | 'text'}`;

/** Bytes read from a target socket at a time (the Go relay uses 32 KiB). */
const readChunk = 64 * 1024;

export interface MessageTransport {
  /**
   * Sends one binary message; `done` runs once it has been written out (or has failed). `message` may
   * be a view of a buffer the relay reuses: the transport must copy it before returning (ws does, as it
   * masks the payload into its frame, as long as the mask is not zero: see `nonZeroMasks`).
   */
  send(message: Buffer, done: () => void): void;
  /** Stops / restarts reading inbound messages (whole-session backpressure). */
  pauseReading(): void;
  resumeReading(): void;
  /** Ends the whole session: the peer sent something the protocol cannot recover from. */
  fail(reason: string): void;
}

export interface RelayLimits extends FlowLimits, ReplyLimits {
  readonly outboundHighBytes: number;
  readonly outboundLowBytes: number;
  readonly maxStreams: number;
  readonly dialTimeoutMs: number;
  /** A stream the parent closed gets this long without write progress to take its last bytes. */
  readonly closingIdleMs: number;
}

/**
 * Spec §5.5 item 8: Pause above 2 MiB buffered, Resume below 256 KiB; the Go client dials with a 1
 * minute timeout. A parent that honours Pause stays below the absolute limits: the most it can have
 * sent past the session's mark is what was on its way (the TCP buffers of one connection), well under
 * the 24 MiB between the mark and the limit; a stream's limit is above the largest message (16 MiB).
 * The session limit bounds what the tunnel holds for any parent (docs/tunnel-memory.md).
 */
export const defaultRelayLimits: RelayLimits = {
  pauseAboveBytes: 2 * 1024 * 1024,
  resumeBelowBytes: 256 * 1024,
  inboundHardLimitBytes: 16 * 1024 * 1024,
  streamBufferLimitBytes: 32 * 1024 * 1024,
  sessionPauseAboveBytes: 24 * 1024 * 1024,
  sessionResumeBelowBytes: 12 * 1024 * 1024,
  sessionBufferLimitBytes: 48 * 1024 * 1024,
  outboundHighBytes: 4 * 1024 * 1024,
  outboundLowBytes: 1024 * 1024,
  maxStreams: 4096,
  replyQueueHoldAbove: 8192,
  maxQueuedReplies: 16_384,
  dialTimeoutMs: 60_000,
  closingIdleMs: 30_000,
};

/** One stream: its state (stream-state.ts, a union with a pure transition function) and its counters. */
class Stream implements StreamFlow {
  state: StreamState = dialingStream;
  /** Bytes received for this stream since its Pause was sent. */
  sincePause = 0;
  /** Bytes from the parent handed to the socket and not yet written out. */
  buffered = 0;
  /** The socket's first error, for the Error(c) it ends with. */
  failure: string | undefined;

  readonly id: number;
  readonly network: string;
  readonly address: string;
  readonly socket: Socket;

  constructor(id: number, network: string, address: string, socket: Socket) {
    this.id = id;
    this.network = network;
    this.address = address;
    this.socket = socket;
  }

  get sentPause(): boolean {
    return this.state.inbound !== 'flowing';
  }

  get holdsReader(): boolean {
    return this.state.inbound === 'holdingReader';
  }
}

export interface RelayStats {
  readonly streams: number;
  /** Streams the parent closed whose sockets are still writing out its last bytes. */
  readonly closing: number;
  readonly opened: number;
  readonly refused: number;
  /** Error replies for streams that do not exist, waiting for the websocket, and dropped (the parent did not read). */
  readonly repliesQueued: number;
  readonly repliesDropped: number;
  readonly outstandingBytes: number;
  /** Parent → target bytes not yet written to their sockets, all streams together, as charged (`chargeFor`). */
  readonly inboundBytes: number;
  /** Stream payload bytes relayed parent → target, and target → parent, over this session. */
  readonly bytesReceived: number;
  readonly bytesSent: number;
}

/** Go's wording for common dial failures, so the hub's logs read the same as with the Go agent. */
function dialFailure(network: string, address: string, err: NodeJS.ErrnoException): string {
  const why: Record<string, string> = {
    ECONNREFUSED: 'connect: connection refused',
    ETIMEDOUT: 'i/o timeout',
    ENOTFOUND: 'no such host',
    EHOSTUNREACH: 'connect: no route to host',
    ENETUNREACH: 'connect: network is unreachable',
  };
  return `dial ${network} ${address}: ${(err.code !== undefined ? why[err.code] : undefined) ?? err.message}`;
}

export class StreamRelay {
  readonly #transport: MessageTransport;
  readonly #allow: DialAllowList;
  readonly #log: Logger;
  readonly #limits: RelayLimits;
  readonly #streams = new Map<number, Stream>();
  /** Streams the parent has closed whose sockets are still writing out what it sent before. */
  readonly #closing = new Set<Stream>();
  readonly #nextId: () => number;
  readonly #loggedOnce: Set<string>;
  #outstanding = 0;
  #outboundBlocked = false;
  /** The parent has sent Pause or Resume: it is remotedialer ≥ v0.3.0 and honours ours. */
  #peerKnowsPause = false;
  #readersHeld = 0;
  /** Replies for streams that do not exist waiting for the websocket to take them; those dropped. */
  readonly #replies: { readonly connId: number; readonly text: string }[] = [];
  #repliesHeld = false;
  #repliesDropped = 0;
  /** Parent → target bytes not yet written, every stream (closing ones too). */
  #inbound = 0;
  /** Above `sessionPauseAboveBytes` until back to `sessionResumeBelowBytes`. */
  #congested = false;
  /** The reader is held for the session as a whole (a parent without Pause, congested). */
  #sessionHolds = false;
  #opened = 0;
  #refused = 0;
  #closed = false;
  /**
   * One read buffer for every stream: each socket read is framed in place (the header is written into
   * the room before the data) and handed to the transport, which copies it before the next read.
   */
  readonly #readBuffer = Buffer.allocUnsafe(maxHeaderLength + readChunk);
  #bytesReceived = 0;
  #bytesSent = 0;

  constructor(
    transport: MessageTransport,
    allow: DialAllowList,
    log: Logger,
    limits: RelayLimits = defaultRelayLimits,
    random: () => number = Math.random,
    /** Shared across the sessions of one tunnel, so a misbehaving parent is logged once, not per session. */
    loggedOnce = new Set<string>(),
  ) {
    this.#loggedOnce = loggedOnce;
    this.#transport = transport;
    this.#allow = allow;
    this.#log = log;
    this.#limits = limits;
    this.#nextId = messageIdCounter(random() * 2 ** 52);
  }

  get stats(): RelayStats {
    return {
      streams: this.#streams.size,
      closing: this.#closing.size,
      opened: this.#opened,
      refused: this.#refused,
      repliesQueued: this.#replies.length,
      repliesDropped: this.#repliesDropped,
      outstandingBytes: this.#outstanding,
      inboundBytes: this.#inbound,
      bytesReceived: this.#bytesReceived,
      bytesSent: this.#bytesSent,
    };
  }

  /** Internal state for debugging. */
  debug(): unknown {
    return {
      outboundBlocked: this.#outboundBlocked,
      readersHeld: this.#readersHeld,
      peerKnowsPause: this.#peerKnowsPause,
      streams: [...this.#streams.values()].map((s) => ({
        id: s.id,
        state: s.state,
        writable: s.socket.writableLength,
        readable: s.socket.readableLength,
        isPaused: s.socket.isPaused(),
      })),
    };
  }

  /** One websocket message from the parent. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    if (!isBinary) {
      this.#fail('text', 'text message from the parent');
      return;
    }
    const decoded = decodeFrame(data);
    if (!decoded.ok) {
      this.#fail(decoded.reason, `malformed message from the parent (${decoded.reason}: ${decoded.detail})`);
      return;
    }
    const { connId, type, payload } = decoded.frame;
    switch (type) {
      case MessageType.Data: {
        const s = this.#streams.get(connId);
        if (s === undefined) {
          // Normal when a stream ends on both sides at once (the hub closing an idle connection).
          this.#once('data-unknown', 'data for an unknown stream; answering with an error', { connId }, 'debug');
          this.#reply(connId, `connection not found client/0/${String(connId)}`);
          return;
        }
        this.#deliver(s, payload);
        return;
      }
      case MessageType.Connect:
        this.#connect(connId, payload);
        return;
      case MessageType.Error: {
        const s = this.#streams.get(connId);
        if (s !== undefined) this.#closeFromPeer(s, errorText(payload));
        return;
      }
      case MessageType.Pause: {
        this.#peerKnowsPause = true;
        const s = this.#streams.get(connId);
        if (s !== undefined) this.#step(s, { type: 'peerPause' });
        return;
      }
      case MessageType.Resume: {
        this.#peerKnowsPause = true;
        const s = this.#streams.get(connId);
        if (s !== undefined) this.#step(s, { type: 'peerResume', outboundBlocked: this.#outboundBlocked });
        return;
      }
      case MessageType.AddClient:
      case MessageType.RemoveClient:
      case MessageType.SyncConnections:
        this.#once('peer-only', 'ignoring a hub-to-hub message type', { type });
        return;
      default:
        this.#once('unknown-type', 'ignoring a message of unknown type', { type });
    }
  }

  /** The session is over: every stream's socket is closed, those still draining too; nothing more is sent. */
  close(): void {
    this.#closed = true;
    for (const s of this.#streams.values()) s.socket.destroy();
    this.#streams.clear();
    for (const s of this.#closing) s.socket.destroy();
    this.#closing.clear();
    this.#replies.length = 0;
  }

  #connect(connId: number, payload: Uint8Array): void {
    if (this.#streams.has(connId)) {
      this.#once('connect-duplicate', 'ignoring a Connect for a stream that exists', { connId });
      return;
    }
    const target = parseConnectTarget(payload);
    const refuse = (reason: string, logKey: OnceKey, detail: Record<string, unknown>): void => {
      this.#refused++;
      this.#once(logKey, `refused a dial: ${reason}`, detail);
      this.#reply(connId, reason);
    };
    if (target === undefined) {
      refuse('failed to parse connect address', 'connect-malformed', { connId });
      return;
    }
    const { network, address } = target;
    const dial = dialTarget(this.#allow, network, address);
    if (!dial.ok) {
      refuse(dial.reason, dial.kind === 'not-allowed' ? 'connect-not-allowed' : 'connect-bad-address', {
        network,
        address,
      });
      return;
    }
    if (this.#streams.size >= this.#limits.maxStreams) {
      refuse('too many streams', 'connect-too-many', { streams: this.#streams.size });
      return;
    }
    let socket: Socket;
    try {
      socket = connect({
        host: dial.host,
        port: dial.port,
        ...(dial.family === undefined ? {} : { family: dial.family }),
        noDelay: true,
        onread: {
          buffer: this.#readBuffer.subarray(maxHeaderLength),
          callback: (n: number) => {
            if (n > 0 && inTable(s.state)) this.#sendRead(connId, n);
            return true;
          },
        },
      });
    } catch (err) {
      // Node refuses some hosts synchronously (a NUL byte, say): a refusal like any other.
      refuse(`dial ${network} ${address}: ${failureMessage(err)}`, 'connect-throw', { network, address });
      return;
    }
    const s = new Stream(connId, network, address, socket);
    this.#streams.set(connId, s);
    this.#opened++;
    this.#watch(s);
  }

  /** A new stream's socket: what it does becomes the stream's events. */
  #watch(s: Stream): void {
    const { socket } = s;
    // The socket's own idle timer (an I/O detail of the dial, not a lifecycle the machine could see):
    // first the dial timeout, then, only once the parent has closed the stream, the drain bound.
    socket.setTimeout(this.#limits.dialTimeoutMs);
    socket.on('timeout', () => {
      this.#step(s, { type: 'timeout' });
    });
    socket.once('connect', () => {
      this.#step(s, { type: 'connected', outboundBlocked: this.#outboundBlocked });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      s.failure ??= isConnected(s.state) ? err.message : dialFailure(s.network, s.address, err);
    });
    socket.once('close', () => {
      this.#step(s, { type: 'socketClosed' });
    });
  }

  /** Feeds the stream an event and carries out the effects its transition names. */
  #step(s: Stream, event: StreamEvent): void {
    const step = streamStep(s.state, event);
    s.state = step.state;
    for (const effect of step.effects) this.#effect(s, effect);
  }

  /** One case per effect: a flat dispatch, the decisions are streamStep's. */
  #effect(s: Stream, effect: StreamEffect): void {
    const { socket } = s;
    switch (effect) {
      case 'forget':
        this.#streams.delete(s.id);
        return;
      case 'trackDraining':
        this.#closing.add(s);
        return;
      case 'pauseSocket':
        socket.pause();
        return;
      case 'resumeSocket':
        socket.resume();
        return;
      case 'clearTimeout':
        socket.setTimeout(0);
        return;
      case 'drainTimeout':
        socket.setTimeout(this.#limits.closingIdleMs);
        return;
      case 'failDial':
        socket.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' }));
        return;
      case 'destroy':
        socket.destroy();
        return;
      case 'destroySoon':
        // Also while still dialing: Node writes what was buffered once connected, then closes.
        socket.destroySoon();
        return;
      case 'sendError':
        this.#send(s.id, MessageType.Error, errorPayload(s.failure ?? 'EOF'));
        return;
      case 'sendOverflowError':
        this.#send(s.id, MessageType.Error, errorPayload('tunnel: too much data buffered for the stream'));
        return;
      case 'sendPause':
        s.sincePause = 0;
        this.#send(s.id, MessageType.Pause);
        return;
      case 'sendResume':
        this.#send(s.id, MessageType.Resume);
        return;
      case 'holdReader':
        this.#hold();
        return;
      case 'releaseReader':
        this.#unhold();
        return;
      case 'uncount':
        this.#uncount(s);
    }
  }

  /** Parent → target bytes, written in order; Node buffers them while the dial is in progress. */
  #deliver(s: Stream, payload: Uint8Array): void {
    const charge = chargeFor(payload.length, payload.buffer.byteLength);
    const d = onArrival(s, this.#sessionFlow(), charge.bytes, this.#limits);
    if (d.end) {
      this.#overflow(s, charge.bytes);
      return;
    }
    const n = charge.bytes;
    this.#bytesReceived += payload.length;
    s.buffered += n;
    this.#inbound += n;
    if (s.sentPause) s.sincePause += n;
    s.socket.write(charge.copy ? copyOf(payload) : payload, () => {
      this.#written(s, n);
    });
    if (d.congested) this.#congested = true;
    if (d.pause) this.#step(s, { type: 'pause' });
    if (d.holdForStream) {
      this.#step(s, { type: 'holdReader' });
      this.#once('reader-held', 'the parent ignores Pause: holding the tunnel reader until the stream drains', {
        connId: s.id,
      });
    }
    if (d.holdForSession) {
      this.#sessionHolds = true;
      this.#hold();
      this.#once('reader-held-session', 'the parent ignores Pause: holding the tunnel reader until streams drain', {
        inboundBytes: this.#inbound,
      });
    }
  }

  #sessionFlow(): SessionFlow {
    return {
      inbound: this.#inbound,
      congested: this.#congested,
      holdsReader: this.#sessionHolds,
      peerKnowsPause: this.#peerKnowsPause,
    };
  }

  /** `n` bytes charged to stream `s` reached the kernel (or were dropped with its socket). */
  #written(s: Stream, n: number): void {
    if (s.state.life.phase === 'closed') return;
    s.buffered -= n;
    this.#inbound -= n;
    this.#drained(s);
  }

  /** What a smaller charge allows again: the stream's Resume, the reader, the session's streams. */
  #drained(s: Stream | undefined): void {
    const d = onDrain(s, this.#sessionFlow(), this.#limits);
    if (s !== undefined && d.releaseStream) this.#step(s, { type: 'releaseReader' });
    if (s !== undefined && d.resume) this.#step(s, { type: 'resume' });
    if (!d.uncongest) return;
    this.#congested = false;
    if (this.#sessionHolds) {
      this.#sessionHolds = false;
      this.#unhold();
    }
    for (const t of this.#streams.values()) if (mayResume(t, this.#limits)) this.#step(t, { type: 'resume' });
  }

  /** The socket closed: whatever it still held no longer counts. */
  #uncount(s: Stream): void {
    this.#closing.delete(s);
    this.#inbound -= s.buffered;
    s.buffered = 0;
    this.#drained(undefined);
  }

  /** More than any parent honouring Pause would send: the stream ends, its bytes dropped. */
  #overflow(s: Stream, refusedBytes: number): void {
    this.#once('inbound-overflow', 'ending a stream: the parent sent more than the agent buffers', {
      connId: s.id,
      streamBytes: s.buffered,
      inboundBytes: this.#inbound,
      refusedBytes,
    });
    this.#step(s, { type: 'overflow' });
  }

  #hold(): void {
    if (this.#readersHeld++ === 0) this.#transport.pauseReading();
  }

  #unhold(): void {
    if (--this.#readersHeld === 0 && !this.#closed) this.#transport.resumeReading();
  }

  /**
   * Error(c, text) from the parent: the stream ends; bytes already received are still written, for as
   * long as the target keeps taking them (`closingIdleMs` without progress ends it), and the socket
   * stays tracked until it is closed so that the session's end closes it too.
   */
  #closeFromPeer(s: Stream, text: string): void {
    if (text !== 'EOF') this.#log.debug({ connId: s.id, error: text }, 'stream closed by the parent with an error');
    // Nobody wants what the target still sends; while dialing, the dial timeout still applies.
    this.#step(s, { type: 'peerClosed' });
  }

  #send(connId: number, type: number, payload?: Uint8Array): void {
    if (this.#closed) return;
    this.#transmit(encodeFrame(this.#nextId(), connId, type, payload));
  }

  /**
   * Error(c) for a stream that never was (a refused Connect, Data for an unknown stream): sent at once
   * while the websocket takes what it is given, else queued in order (`onReply`); a long queue holds the
   * reader until the parent has read half of it (`replyHold`), so a parent that reads gets every reply.
   */
  #reply(connId: number, text: string): void {
    if (this.#closed) return;
    const action = onReply(this.#replies.length, this.#outboundBlocked, this.#limits);
    if (action === 'send') {
      this.#transmit(encodeFrame(this.#nextId(), connId, MessageType.Error, errorPayload(text)));
      return;
    }
    if (action === 'drop') {
      this.#repliesDropped++;
      this.#once('replies-dropped', 'the parent does not read: dropping error replies for streams that do not exist', {
        connId,
        queued: this.#replies.length,
      });
      return;
    }
    this.#replies.push({ connId, text });
    this.#holdForReplies();
  }

  /** Queued replies go out while the websocket takes them. */
  #sendReplies(): void {
    let sent = 0;
    while (!this.#outboundBlocked && !this.#closed && sent < this.#replies.length) {
      const r = this.#replies[sent++];
      if (r !== undefined)
        this.#transmit(encodeFrame(this.#nextId(), r.connId, MessageType.Error, errorPayload(r.text)));
    }
    this.#replies.splice(0, sent);
    this.#holdForReplies();
  }

  #holdForReplies(): void {
    const h = replyHold(this.#replies.length, this.#repliesHeld, this.#limits);
    if (h === 'hold') {
      this.#repliesHeld = true;
      this.#hold();
      this.#once('reader-held-replies', 'the parent does not read its replies: holding the tunnel reader', {
        queued: this.#replies.length,
      });
    } else if (h === 'release') {
      this.#repliesHeld = false;
      this.#unhold();
    }
  }

  #transmit(message: Buffer): void {
    const size = message.length;
    this.#outstanding += size;
    this.#transport.send(message, () => {
      this.#outstanding -= size;
      if (this.#outboundBlocked && this.#outstanding < this.#limits.outboundLowBytes) {
        this.#outboundBlocked = false;
        // Replies first: they may fill the websocket again, and the sockets then stay paused.
        if (this.#replies.length > 0) this.#sendReplies();
        this.#resumeReads();
      }
    });
    if (!this.#outboundBlocked && this.#outstanding > this.#limits.outboundHighBytes) {
      this.#outboundBlocked = true;
      for (const s of this.#streams.values()) s.socket.pause();
    }
  }

  /** The websocket takes messages again: every socket the parent has not paused is read again. */
  #resumeReads(): void {
    if (this.#outboundBlocked) return;
    for (const s of this.#streams.values()) if (s.state.outbound === 'reading') s.socket.resume();
  }

  /** Data(c) straight from the shared read buffer: the header goes into the room before the bytes. */
  #sendRead(connId: number, n: number): void {
    if (this.#closed) return;
    this.#bytesSent += n;
    const start = writeHeaderBefore(this.#readBuffer, maxHeaderLength, this.#nextId(), connId, MessageType.Data);
    this.#transmit(this.#readBuffer.subarray(start, maxHeaderLength + n));
  }

  #fail(kind: MalformedReason | 'text', reason: string): void {
    this.#once(`fail-${kind}`, `ending the tunnel session: ${reason}`, {});
    this.close();
    this.#transport.fail(reason);
  }

  /** Logs the first time `key` happens (per tunnel: the set outlives sessions), at warn unless told. */
  #once(key: OnceKey, message: string, detail: Record<string, unknown>, level: 'warn' | 'debug' = 'warn'): void {
    if (this.#loggedOnce.has(key)) return;
    this.#loggedOnce.add(key);
    this.#log[level](detail, message);
  }
}

/** A payload copied into a buffer of its own (not from Node's shared pool, which a small copy would keep). */
function copyOf(payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafeSlow(payload.length);
  b.set(payload);
  return b;
}
