// Pure decisions of the socket (tunnel) lifecycle, called by the statechart and by src/tunnel.

import type { BackoffPolicy } from '../backoff.ts';

/** The path the hub serves the tunnel on (spec §5.1), relative to the parent URL's path. */
export const socketsPath = 'apis/proxies.clusternet.io/v1alpha1/sockets';

/**
 * The websocket URL of the tunnel (spec §5.1): the parent URL with `https`→`wss` (`http`→`ws`), its
 * path joined with the sockets path, then `/<clusterID>`. Throws on a parent URL that is not http(s).
 */
export function socketUrl(parentUrl: string, clusterId: string): string {
  const u = new URL(parentUrl);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new Error(`parent URL ${parentUrl}: scheme must be https or http`);
  }
  const scheme = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = u.pathname.replace(/\/+$/, '');
  return `${scheme}//${u.host}${base}/${socketsPath}/${encodeURIComponent(clusterId)}`;
}

/** How a tunnel attempt or session ended, as the statechart sees it. */
export type CloseKind =
  /** The parent refused the dedicated credentials (HTTP 401/403 on the handshake). */
  | 'rejected'
  /** Anything else: dial failure, other HTTP status, TLS failure, read error, server close. */
  | 'retry';

/** 401 (token rejected) and 403 (RBAC: the `sockets` rule is missing) say the credentials do not work. */
export function closeKind(handshakeStatus: number | undefined): CloseKind {
  return handshakeStatus === 401 || handshakeStatus === 403 ? 'rejected' : 'retry';
}

/**
 * Reconnect backoff: exponential from 200 ms, capped at 1.5 s, jittered downwards, so the tunnel is back
 * within 2 s of the parent becoming reachable again (the Go agent waits 10–11.5 s, without a cap).
 */
export const reconnectPolicy: BackoffPolicy = { initialMs: 200, factor: 2, maxMs: 1500, jitter: 0.3 };
/** After the parent refused the credentials: slower, the root machine is expected to re-register. */
export const rejectedPolicy: BackoffPolicy = { initialMs: 5000, factor: 2, maxMs: 60_000, jitter: 0.3 };

/** Keepalive (spec §5.6): a ping every 5 s; the peer is dead when nothing answers for this long. */
export const pingIntervalMs = 5000;
/** Well under the hub's 60 s read deadline; three missed pongs in a row. */
export const deadPeerTimeoutMs = 15_000;
/**
 * How long the relay may hold the reader for a parent without Pause before the session is dropped: the
 * Go client's read deadline (spec §5.6), which passes while its own reader is blocked the same way.
 */
export const readerHeldTimeoutMs = 60_000;
/** The Go client has none; the hub's upgrader gives up after 5 s. */
export const handshakeTimeoutMs = 10_000;
