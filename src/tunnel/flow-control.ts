// The stream relay's flow-control decisions (spec §5.5 item 8), pure: what the relay does with bytes
// the parent sends for a stream, and what it may undo once bytes are written out. The relay
// (stream-relay.ts) keeps the counters, asks these functions, and carries out the answer.
//
// Every byte from the parent that is not yet written to its target socket is charged to its stream and
// to the session: the payload, or the whole buffer it is a view of when that buffer is kept (a small
// message cut from a big socket read keeps the whole read alive), plus what Node keeps per queued write.
// The session's charge never passes `sessionBufferLimitBytes`, whatever the parent does: Data that
// would take it (or its stream's, past `streamBufferLimitBytes`) further ends the stream instead.

export interface FlowLimits {
  /** A stream holding more is paused with Pause(c) (spec: 2 MiB)… */
  readonly pauseAboveBytes: number;
  /** …and resumed with Resume(c) once it holds this little (spec: 256 KiB). */
  readonly resumeBelowBytes: number;
  /** A parent without Pause: the websocket reader is held once a stream got this much after its Pause. */
  readonly inboundHardLimitBytes: number;
  /** Data that would take one stream past this ends the stream. */
  readonly streamBufferLimitBytes: number;
  /** All streams together holding more: every stream that gets Data is paused (and the reader held for a parent without Pause)… */
  readonly sessionPauseAboveBytes: number;
  /** …until they hold this little. */
  readonly sessionResumeBelowBytes: number;
  /** Data that would take the session past this ends its stream: the bound on the tunnel's inbound bytes. */
  readonly sessionBufferLimitBytes: number;
}

/**
 * What Node keeps for each write queued on a socket besides the bytes (its queue entry, the Buffer
 * object, the callback): measured 440–570 bytes per queued 16-byte write on Node 24.
 */
export const queuedWriteOverheadBytes = 640;

export interface Charge {
  /** Copy the payload out of the buffer it is a view of, so that buffer is not kept. */
  readonly copy: boolean;
  /** Bytes charged until the write is done. */
  readonly bytes: number;
}

/**
 * What a payload of `length` bytes costs while it waits to be written, when it is a view of a buffer
 * of `backingBytes`. A view keeping more than twice its size alive is copied (the copy costs its
 * length); otherwise the view is written as it is and the whole buffer is charged.
 */
export function chargeFor(length: number, backingBytes: number): Charge {
  const copy = backingBytes > 2 * length;
  return { copy, bytes: (copy ? length : backingBytes) + queuedWriteOverheadBytes };
}

export interface StreamFlow {
  /** Bytes charged to the stream and not yet written. */
  readonly buffered: number;
  readonly sentPause: boolean;
  /** Bytes charged since its Pause was sent. */
  readonly sincePause: number;
  /** The reader is held for this stream. */
  readonly holdsReader: boolean;
}

export interface SessionFlow {
  /** Bytes charged to every stream (closing ones too) and not yet written. */
  readonly inbound: number;
  /** Above `sessionPauseAboveBytes` until back to `sessionResumeBelowBytes`. */
  readonly congested: boolean;
  /** The reader is held for the session as a whole. */
  readonly holdsReader: boolean;
  /** The parent has sent Pause or Resume: it knows them (remotedialer ≥ v0.3.0). */
  readonly peerKnowsPause: boolean;
}

export type Arrival =
  /** The stream is ended with an Error; the payload is dropped. */
  | { readonly end: true }
  | {
      readonly end: false;
      /** Send Pause(c). */
      readonly pause: boolean;
      /** The session is (now) congested. */
      readonly congested: boolean;
      /** Hold the reader for this stream / for the session (a parent without Pause). */
      readonly holdForStream: boolean;
      readonly holdForSession: boolean;
    };

/** Data of `charge` bytes arrives for a stream: write it (and what else), or end the stream. */
export function onArrival(stream: StreamFlow, session: SessionFlow, charge: number, limits: FlowLimits): Arrival {
  const buffered = stream.buffered + charge;
  const inbound = session.inbound + charge;
  if (buffered > limits.streamBufferLimitBytes || inbound > limits.sessionBufferLimitBytes) return { end: true };
  const congested = session.congested || inbound > limits.sessionPauseAboveBytes;
  const pause = !stream.sentPause && (buffered > limits.pauseAboveBytes || congested);
  const sincePause = stream.sentPause ? stream.sincePause + charge : 0;
  const withoutPause = !session.peerKnowsPause;
  return {
    end: false,
    pause,
    congested,
    holdForStream: withoutPause && !stream.holdsReader && sincePause > limits.inboundHardLimitBytes,
    holdForSession: withoutPause && !session.holdsReader && congested,
  };
}

export interface Drain {
  /** Release the reader this stream holds. */
  readonly releaseStream: boolean;
  /** Send Resume(c) for this stream. */
  readonly resume: boolean;
  /** The session is no longer congested: release its hold, and resume every stream `mayResume` allows. */
  readonly uncongest: boolean;
}

/**
 * Bytes were written out (or dropped with their socket): what the smaller counts allow again. `stream`
 * is the stream they were charged to, undefined when it is not to be resumed (its socket closed).
 */
export function onDrain(stream: StreamFlow | undefined, session: SessionFlow, limits: FlowLimits): Drain {
  const uncongest = session.congested && session.inbound <= limits.sessionResumeBelowBytes;
  const low = stream !== undefined && stream.buffered <= limits.resumeBelowBytes;
  return {
    releaseStream: low && stream.holdsReader,
    resume: low && stream.sentPause && (!session.congested || uncongest),
    uncongest,
  };
}

/** Once the session is no longer congested: may this stream be resumed? */
export function mayResume(stream: StreamFlow, limits: FlowLimits): boolean {
  return stream.sentPause && stream.buffered <= limits.resumeBelowBytes;
}

export interface ReplyLimits {
  /** Error replies for streams that do not exist, queued: past this many the reader is held… */
  readonly replyQueueHoldAbove: number;
  /** …and past this many (a parent that does not read at all) more are dropped. */
  readonly maxQueuedReplies: number;
}

/**
 * An Error reply for a stream that does not exist (a refused Connect, Data for an unknown stream), with
 * `queued` replies waiting: sent at once while the websocket takes what it is given and none waits
 * (replies keep their order), else queued; dropped only when the queue is full.
 */
export function onReply(queued: number, outboundBlocked: boolean, limits: ReplyLimits): 'send' | 'queue' | 'drop' {
  if (queued === 0 && !outboundBlocked) return 'send';
  return queued < limits.maxQueuedReplies ? 'queue' : 'drop';
}

/**
 * Backpressure for replies: the reader is held while more than `replyQueueHoldAbove` wait, so a parent
 * that sends Connects faster than it reads the answers is slowed rather than left unanswered; released
 * once half of them have gone.
 */
export function replyHold(queued: number, held: boolean, limits: ReplyLimits): 'hold' | 'release' | 'none' {
  if (!held) return queued > limits.replyQueueHoldAbove ? 'hold' : 'none';
  return queued <= limits.replyQueueHoldAbove / 2 ? 'release' : 'none';
}
