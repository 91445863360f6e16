import { describe, expect, it } from 'vitest';
import {
  chargeFor,
  mayResume,
  onArrival,
  onDrain,
  onReply,
  queuedWriteOverheadBytes as o,
  replyHold,
  type FlowLimits,
  type SessionFlow,
  type StreamFlow,
} from '../../../src/tunnel/flow-control.ts';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Small numbers, one MiB each step apart, so a row reads at a glance. */
const limits: FlowLimits = {
  pauseAboveBytes: 2 * MiB,
  resumeBelowBytes: 256 * KiB,
  inboundHardLimitBytes: 4 * MiB,
  streamBufferLimitBytes: 8 * MiB,
  sessionPauseAboveBytes: 12 * MiB,
  sessionResumeBelowBytes: 6 * MiB,
  sessionBufferLimitBytes: 16 * MiB,
};

const stream = (s: Partial<StreamFlow> = {}): StreamFlow => ({
  buffered: 0,
  sentPause: false,
  sincePause: 0,
  holdsReader: false,
  ...s,
});
const session = (s: Partial<SessionFlow> = {}): SessionFlow => ({
  inbound: 0,
  congested: false,
  holdsReader: false,
  peerKnowsPause: true,
  ...s,
});

describe('chargeFor', () => {
  it.each([
    // length, backing buffer, copy?, charged
    [64 * KiB, 64 * KiB + 20, false, 64 * KiB + 20 + o], // a message of its own: the view is written
    [40 * KiB, 64 * KiB, false, 64 * KiB + o], // most of a socket read: written, the whole read charged
    [1, 64 * KiB, true, 1 + o], // a byte cut from a 64 KiB read: copied, not keeping the read alive
    [100, 8 * KiB, true, 100 + o], // a view of Node's 8 KiB pool: copied
    [16, 16, false, 16 + o], // Node's cost per queued write is charged whatever the size
    [0, 0, false, o],
  ])('%i bytes of a %i-byte buffer: copy %s, charged %i', (length, backing, copy, bytes) => {
    expect(chargeFor(length, backing)).toEqual({ copy, bytes });
  });
});

describe('onArrival', () => {
  const write = { end: false, pause: false, congested: false, holdForStream: false, holdForSession: false };
  it.each<[string, StreamFlow, SessionFlow, number, ReturnType<typeof onArrival>]>([
    ['below every mark: written', stream(), session(), MiB, write],
    ['the stream passes its mark: Pause', stream({ buffered: 1.5 * MiB }), session(), MiB, { ...write, pause: true }],
    [
      'already paused: no second Pause',
      stream({ buffered: 3 * MiB, sentPause: true, sincePause: MiB }),
      session({ inbound: 3 * MiB }),
      MiB,
      write,
    ],
    [
      'the session passes its mark: congested, this stream paused',
      stream(),
      session({ inbound: 11.5 * MiB }),
      MiB,
      { ...write, pause: true, congested: true },
    ],
    [
      'a congested session pauses every stream that gets Data',
      stream({ buffered: 10 }),
      session({ inbound: 8 * MiB, congested: true }),
      100,
      { ...write, pause: true, congested: true },
    ],
    // Whatever the parent: the limits are never passed.
    [
      'Data that would take the stream past its limit ends it',
      stream({ buffered: 7.5 * MiB }),
      session(),
      MiB,
      { end: true },
    ],
    [
      'exactly at the stream limit: written',
      stream({ buffered: 7 * MiB, sentPause: true }),
      session({ inbound: 7 * MiB }),
      MiB,
      write,
    ],
    [
      'Data that would take the session past its limit ends the stream',
      stream({ buffered: 10 }),
      session({ inbound: 15.5 * MiB, congested: true }),
      MiB,
      { end: true },
    ],
    [
      'the same for a parent without Pause',
      stream({ buffered: 10 }),
      session({ inbound: 15.5 * MiB, congested: true, peerKnowsPause: false, holdsReader: true }),
      MiB,
      { end: true },
    ],
    // A parent that does not know Pause: the reader is held instead.
    [
      'without Pause: a stream past inboundHardLimitBytes since its Pause holds the reader',
      stream({ buffered: 6 * MiB, sentPause: true, sincePause: 3.5 * MiB }),
      session({ inbound: 6 * MiB, peerKnowsPause: false }),
      MiB,
      { ...write, holdForStream: true },
    ],
    [
      'without Pause: once',
      stream({ buffered: 6 * MiB, sentPause: true, sincePause: 4.5 * MiB, holdsReader: true }),
      session({ inbound: 6 * MiB, peerKnowsPause: false }),
      MiB,
      write,
    ],
    [
      'with Pause: never held for a stream',
      stream({ buffered: 6 * MiB, sentPause: true, sincePause: 3.5 * MiB }),
      session({ inbound: 6 * MiB }),
      MiB,
      write,
    ],
    [
      'without Pause: a congested session holds the reader',
      stream(),
      session({ inbound: 11.5 * MiB, peerKnowsPause: false }),
      MiB,
      { ...write, pause: true, congested: true, holdForSession: true },
    ],
    [
      'without Pause: the session holds it once',
      stream({ sentPause: true }),
      session({ inbound: 13 * MiB, congested: true, holdsReader: true, peerKnowsPause: false }),
      MiB,
      { ...write, congested: true },
    ],
  ])('%s', (_name, s, sess, charge, want) => {
    expect(onArrival(s, sess, charge, limits)).toEqual(want);
  });
});

describe('onDrain', () => {
  it.each<[string, StreamFlow | undefined, SessionFlow, ReturnType<typeof onDrain>]>([
    [
      'above the low mark: nothing',
      stream({ buffered: MiB, sentPause: true }),
      session({ inbound: MiB }),
      {
        releaseStream: false,
        resume: false,
        uncongest: false,
      },
    ],
    [
      'at the low mark: Resume',
      stream({ buffered: 256 * KiB, sentPause: true }),
      session({ inbound: MiB }),
      {
        releaseStream: false,
        resume: true,
        uncongest: false,
      },
    ],
    [
      'not paused: no Resume',
      stream({ buffered: 0 }),
      session(),
      { releaseStream: false, resume: false, uncongest: false },
    ],
    [
      'at the low mark, holding the reader: released and resumed',
      stream({ buffered: 100, sentPause: true, holdsReader: true }),
      session({ inbound: 100, peerKnowsPause: false }),
      { releaseStream: true, resume: true, uncongest: false },
    ],
    [
      'a congested session: released, but no Resume yet',
      stream({ buffered: 100, sentPause: true, holdsReader: true }),
      session({ inbound: 7 * MiB, congested: true }),
      { releaseStream: true, resume: false, uncongest: false },
    ],
    [
      'the session back at its low mark: uncongested, and this stream resumed',
      stream({ buffered: 100, sentPause: true }),
      session({ inbound: 6 * MiB, congested: true }),
      { releaseStream: false, resume: true, uncongest: true },
    ],
    [
      'a closed socket: only the session',
      undefined,
      session({ inbound: 5 * MiB, congested: true }),
      { releaseStream: false, resume: false, uncongest: true },
    ],
  ])('%s', (_name, s, sess, want) => {
    expect(onDrain(s, sess, limits)).toEqual(want);
  });

  it.each([
    [stream({ buffered: 100, sentPause: true }), true],
    [stream({ buffered: MiB, sentPause: true }), false],
    [stream({ buffered: 100 }), false],
  ])('mayResume(%j) → %s', (s, want) => {
    expect(mayResume(s, limits)).toBe(want);
  });
});

describe('replies for streams that do not exist', () => {
  const replyLimits = { replyQueueHoldAbove: 100, maxQueuedReplies: 200 };
  it.each([
    [0, false, 'send'],
    [0, true, 'queue'], // the websocket has enough unsent: wait for it
    [5, false, 'queue'], // others wait: keep the order
    [199, true, 'queue'],
    [200, true, 'drop'], // a full queue: the parent does not read at all
    [200, false, 'drop'],
  ] as const)('%i queued, websocket blocked %s → %s', (queued, blocked, want) => {
    expect(onReply(queued, blocked, replyLimits)).toBe(want);
  });

  it.each([
    [100, false, 'none'],
    [101, false, 'hold'],
    [101, true, 'none'],
    [51, true, 'none'],
    [50, true, 'release'],
    [0, false, 'none'],
  ] as const)('%i queued, held %s → %s', (queued, held, want) => {
    expect(replyHold(queued, held, replyLimits)).toBe(want);
  });
});
