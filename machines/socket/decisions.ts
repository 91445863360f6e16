// Pure decisions of the socket (tunnel) lifecycle, called by the statechart and by src/tunnel.

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

/**
 * Why the tunnel is down, as the statechart sees it: decides which wait comes before the next dial,
 * and is what /readyz and the `tunnel_failure` metric name.
 */
export type TunnelFailureKind =
  /** No answer from the parent: connection refused or reset, DNS, timeout; or a healthy session ended. */
  | 'unreachable'
  /** A live parent answered the handshake with an error status (404, 500, …; not a gateway error). */
  | 'status'
  /** 401 on the handshake: the parent rejects the dedicated token. */
  | 'unauthorized'
  /** 403 on the handshake: a hub still starting answers so briefly; RBAC without the `sockets` rule always. */
  | 'forbidden'
  /** The parent accepted the handshake, then ended the session before answering one of our pings. */
  | 'dropped'
  /** TLS failed: the parent's certificate is not one the approved CA (or the system roots) vouch for. */
  | 'tls'
  /** Anything else: the credentials could not be read, a proxy the agent cannot use, a bug in a peer. */
  | 'other';

/** How the chart reacts to a failure kind. */
export type FailureResponse =
  /** Redial soon (within 2 s): the parent may be back any moment. */
  | 'retrySoon'
  /** Back off exponentially to a cap of a minute: a live parent says no, retrying faster changes nothing. */
  | 'backOff'
  /** Tell registration the parent rejects the credentials, back off (it re-registers if they are revoked). */
  | 'rejected'
  /** Ask registration to re-check the credentials; redial as soon as it says they are good. */
  | 'recheck';

/** What ended an attempt or a session. */
export interface TunnelEnd {
  /** The handshake's HTTP status, when the parent answered one other than 101. */
  readonly status?: number | undefined;
  /** The Node.js error code (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, …), when an error ended it. */
  readonly code?: string | undefined;
  /** The handshake succeeded (HTTP 101) in this attempt. */
  readonly opened: boolean;
  /** A Pong answering our Ping came in this session: the parent was healthy. */
  readonly proved: boolean;
  /** The handshake got no answer within the handshake timeout. */
  readonly timedOut?: boolean;
}

/** Error codes of a parent that is not there (or not reachable now): its return is worth waiting for. */
const unreachableCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** Node's codes for a certificate the client does not accept (tls.TLSSocket `authorizationError`). */
const tlsCodePattern = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_|ERR_OSSL)/;

/** Classifies how an attempt or session ended. */
/** 502, 503, 504: the apiserver is up, the service behind it is not. */
const gatewayErrors: ReadonlySet<number> = new Set([502, 503, 504]);

export function classifyEnd(end: TunnelEnd): TunnelFailureKind {
  if (end.proved) return 'unreachable'; // a healthy session ended: the parent went away
  if (end.status !== undefined) {
    if (end.status === 401) return 'unauthorized';
    if (end.status === 403) return 'forbidden';
    // A gateway error is the parent apiserver saying the hub behind its APIService is unreachable (a hub
    // restarting answers 503 until it serves): the fast path, so the tunnel is back within 2 s of it.
    if (gatewayErrors.has(end.status)) return 'unreachable';
    return 'status';
  }
  if (end.opened) return 'dropped';
  if (end.timedOut === true) return 'unreachable';
  if (end.code !== undefined) {
    if (unreachableCodes.has(end.code)) return 'unreachable';
    if (tlsCodePattern.test(end.code)) return 'tls';
  }
  return 'other';
}

/** The chart's reaction to each failure kind. */
export function failureResponse(kind: TunnelFailureKind): FailureResponse {
  switch (kind) {
    case 'unreachable':
      return 'retrySoon';
    case 'unauthorized':
      return 'rejected';
    case 'forbidden':
      return 'recheck';
    case 'status':
    case 'dropped':
    case 'tls':
    case 'other':
      return 'backOff';
  }
}

/** Every failure kind, for metrics that export one series per kind. */
export const tunnelFailureKinds: readonly TunnelFailureKind[] = [
  'unreachable',
  'status',
  'unauthorized',
  'forbidden',
  'dropped',
  'tls',
  'other',
];

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
