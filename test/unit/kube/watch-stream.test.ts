// The watch stream (src/kube/watch-stream.ts) against an HTTP server that answers watch requests as
// an apiserver does (one JSON event a line): it decodes the phases, resumes a watch that ended
// normally from the last resourceVersion by itself, and completes with `expired` or `failed` for the
// charts to decide on.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { decodeWatchEvent, resumePointAfter, watch$, type WatchEvent } from '../../../src/kube/watch-stream.ts';
import { listWatch$ } from '../../../src/kube/list-watch.ts';

interface Obj {
  readonly metadata: { readonly name: string; readonly resourceVersion: string };
}
const obj = (name: string, rv: string): Obj => ({ metadata: { name, resourceVersion: rv } });
const line = (type: string, object: unknown): string => `${JSON.stringify({ type, object })}\n`;

/** A server that answers the n-th watch request with `answers[n]`; records each request's query. */
async function apiserver(answers: ((res: ServerResponse) => void)[]) {
  const queries: URLSearchParams[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') !== 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [obj('listed', '7')], metadata: { resourceVersion: '7' } }));
      return;
    }
    queries.push(url.searchParams);
    const answer = answers[queries.length - 1];
    if (answer === undefined) return; // hangs until the watch is stopped
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'c', server: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, skipTLSVerify: true },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const close = (): void => {
    server.closeAllConnections();
    server.close();
  };
  return { kc, queries, close };
}

const ok = (res: ServerResponse, body: string): void => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
};

describe('decodeWatchEvent', () => {
  it('turns WATCH phases into typed events and drops unknown ones', () => {
    expect(decodeWatchEvent<Obj>('ADDED', obj('a', '1'))).toEqual({ type: 'added', object: obj('a', '1') });
    expect(decodeWatchEvent<Obj>('MODIFIED', obj('a', '2'))?.type).toBe('modified');
    expect(decodeWatchEvent<Obj>('DELETED', obj('a', '3'))?.type).toBe('deleted');
    expect(decodeWatchEvent<Obj>('BOOKMARK', obj('', '9'))).toEqual({ type: 'bookmark', resourceVersion: '9' });
    expect(decodeWatchEvent<Obj>('SOMETHING', obj('a', '1'))).toBeUndefined();
  });

  it('moves the resume point on with changes and bookmarks, and clears it on 410', () => {
    expect(resumePointAfter<Obj>({ type: 'added', object: obj('a', '4') }, '3')).toBe('4');
    expect(resumePointAfter<Obj>({ type: 'bookmark', resourceVersion: '8' }, '4')).toBe('8');
    expect(resumePointAfter<Obj>({ type: 'failed', message: 'x' }, '8')).toBe('8');
    expect(resumePointAfter<Obj>({ type: 'expired', message: 'x' }, '8')).toBeUndefined();
  });
});

describe('watch$', () => {
  it('resumes a watch the server ended from the last resourceVersion, and completes with expired', async () => {
    const s = await apiserver([
      (res) => {
        ok(res, line('ADDED', obj('a', '5')) + line('BOOKMARK', { metadata: { resourceVersion: '6' } }));
      },
      (res) => {
        ok(res, line('MODIFIED', obj('a', '7')));
      },
      (res) => {
        ok(res, line('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' }));
      },
    ]);
    try {
      const events = await lastValueFrom(
        watch$<Obj>({ kc: s.kc, path: '/api/v1/things', what: 'thing', resourceVersion: '1' }).pipe(toArray()),
      );
      expect(events.map((e) => e.type)).toEqual(['added', 'bookmark', 'modified', 'expired']);
      expect(s.queries.map((q) => q.get('resourceVersion'))).toEqual(['1', '6', '7']);
      expect(s.queries.every((q) => q.get('allowWatchBookmarks') === 'true')).toBe(true);
      const timeout = Number(s.queries[0]?.get('timeoutSeconds'));
      expect(timeout).toBeGreaterThanOrEqual(300);
      expect(timeout).toBeLessThan(600);
    } finally {
      s.close();
    }
  });

  it('completes with failed after an HTTP error, without trying again itself', async () => {
    const s = await apiserver([
      (res) => {
        res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"forbidden"}');
      },
    ]);
    try {
      const events: WatchEvent<Obj>[] = await lastValueFrom(
        watch$<Obj>({ kc: s.kc, path: '/api/v1/things', what: 'thing', resourceVersion: '1' }).pipe(toArray()),
      );
      expect(events.map((e) => e.type)).toEqual(['failed']);
      expect(s.queries).toHaveLength(1);
    } finally {
      s.close();
    }
  });

  it('counts a watch closed at once with nothing in it as failed (no resume loop)', async () => {
    const s = await apiserver([
      (res) => {
        ok(res, '');
      },
    ]);
    try {
      const end = await lastValueFrom(
        watch$<Obj>({ kc: s.kc, path: '/api/v1/things', what: 'thing', resourceVersion: '1' }),
      );
      expect(end).toEqual({ type: 'failed', message: 'thing watch closed at once with no event' });
      expect(s.queries).toHaveLength(1);
    } finally {
      s.close();
    }
  });
});

describe('listWatch$', () => {
  it('lists when there is no resume point, says synced, then watches from the list', async () => {
    const s = await apiserver([]);
    try {
      const resume = { resourceVersion: undefined as string | undefined };
      let lists = 0;
      const first = await firstValueFrom(
        listWatch$<Obj>({
          kc: s.kc,
          path: '/api/v1/things',
          what: 'thing',
          resume,
          list: () => {
            lists++;
            resume.resourceVersion = '7';
            return Promise.resolve();
          },
        }),
      );
      expect(first).toEqual({ type: 'synced' });
      expect(lists).toBe(1);
    } finally {
      s.close();
    }
  });

  it('says why when the list fails, as the last event', async () => {
    const s = await apiserver([]);
    try {
      const events = await lastValueFrom(
        listWatch$<Obj>({
          kc: s.kc,
          path: '/api/v1/things',
          what: 'thing',
          resume: { resourceVersion: undefined },
          list: () => Promise.reject(new Error('HTTP 503')),
        }).pipe(toArray()),
      );
      expect(events).toEqual([{ type: 'failed', message: 'listing things: HTTP 503' }]);
      expect(s.queries).toHaveLength(0);
    } finally {
      s.close();
    }
  });
});
