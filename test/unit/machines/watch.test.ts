// The one classification of a watch's end, and the restart decision every machine uses.

import { KubeConfig, Watch } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  afterListPage,
  classifyWatchEnd,
  listRestartLimit,
  resumesAtOnce,
  serverTimeoutSeconds,
  watchTiming,
  type WatchEndCause,
  type WatchEndKind,
} from '../../../machines/watch.ts';
import { IdleTimeoutWatch } from '../../../src/kube/watch-stream.ts';

const closed = (error: unknown, lastedMs = 30_000, events = 0): WatchEndCause => ({
  source: 'closed',
  error,
  lastedMs,
  events,
});

describe('classifyWatchEnd', () => {
  it.each<[string, WatchEndCause, WatchEndKind]>([
    // What client-node's Watch gives `done` when nothing came for its idle timeout (30 s by default).
    [
      'the client idle timeout (TimeoutError)',
      closed(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      'ended',
    ],
    ['the server closed it (timeoutSeconds)', closed(null, 300_000, 12), 'ended'],
    ['the server closed it, no event, after a while', closed(null, 90_000, 0), 'ended'],
    ['closed at once with nothing in it', closed(null, 20, 0), 'failed'],
    ['closed at once after an event', closed(null, 20, 1), 'ended'],
    [
      'an ERROR event 410 Gone',
      { source: 'status', status: { code: 410, message: 'too old resource version' } },
      'expired',
    ],
    ['an ERROR event 500', { source: 'status', status: { code: 500, message: 'internal error' } }, 'failed'],
    ['HTTP 410 on the request', closed(Object.assign(new Error('Gone'), { statusCode: 410 })), 'expired'],
    ['HTTP 403 on the request', closed(Object.assign(new Error('Forbidden'), { statusCode: 403 })), 'failed'],
    ['a refused connection', closed(new TypeError('fetch failed')), 'failed'],
    ['an abort that is not a timeout', closed(new DOMException('This operation was aborted', 'AbortError')), 'failed'],
  ])('%s', (_name, cause, kind) => {
    expect(classifyWatchEnd(cause, 'node').kind).toBe(kind);
  });

  it('names the watch in its message', () => {
    expect(classifyWatchEnd(closed(new TypeError('fetch failed')), 'Description').message).toBe(
      'Description watch: fetch failed',
    );
  });
});

describe('resumesAtOnce', () => {
  it.each<[WatchEndKind, boolean]>([
    ['ended', true],
    ['expired', true],
    ['failed', false],
  ])('%s → %s', (kind, atOnce) => {
    expect(resumesAtOnce(kind)).toBe(atOnce);
  });
});

describe('the watch request', () => {
  it('asks the server for a timeout of 5 to 10 minutes', () => {
    expect(serverTimeoutSeconds(watchTiming, () => 0)).toBe(300);
    expect(serverTimeoutSeconds(watchTiming, () => 0.999)).toBe(599);
  });

  it("sets client-node's idle timeout (a rename in client-node fails here)", () => {
    const kc = new KubeConfig();
    expect(Reflect.get(new Watch(kc), 'requestTimeoutMs')).toBe(30_000);
    expect(Reflect.get(new IdleTimeoutWatch(kc, watchTiming.idleTimeoutMs), 'requestTimeoutMs')).toBe(90_000);
    // Above the apiserver's bookmark period (one a minute), so a live idle watch is not cut.
    expect(watchTiming.idleTimeoutMs).toBeGreaterThan(60_000);
  });
});

describe('afterListPage (a paged list whose continue token expired)', () => {
  it.each([
    [200, 0, 'page'],
    [200, 3, 'page'],
    [410, 0, 'restart'],
    [410, 2, 'restart'],
    [410, 3, 'fail'],
    [500, 0, 'fail'],
    [403, 0, 'fail'],
  ] as const)('HTTP %i after %i restarts: %s', (status, restarts, step) => {
    expect(afterListPage(status, restarts)).toBe(step);
  });

  it('starts over at most three times', () => {
    expect(listRestartLimit).toBe(3);
    let restarts = 0;
    while (afterListPage(410, restarts) === 'restart') restarts++;
    expect(restarts).toBe(3);
  });
});
