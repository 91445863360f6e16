// The effects of the socket statechart: the websocket tunnel to the parent (spec §5.1, §5.6) with the
// dedicated token, TLS verified against the parent CA the parent approved (the Go agent skips
// verification), HTTPS_PROXY/NO_PROXY honoured (the Go agent ignores them for the tunnel), and the
// stream relay behind it. The token stays in this closure; the statechart sees only what happened.

import { randomFillSync } from 'node:crypto';
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { fromCallback } from 'xstate';
import {
  deadPeerTimeoutMs,
  handshakeTimeoutMs,
  pingIntervalMs,
  readerHeldTimeoutMs,
  type TunnelFailureKind,
} from '../../machines/socket/decisions.ts';
import { reconnectDelays } from '../../machines/socket/timing.ts';
import {
  socketMachine,
  type SessionCommand,
  type SessionInput,
  type SocketEvent,
} from '../../machines/socket/machine.ts';
import type { Logger } from '../logging/logger.ts';
import { direct, proxyAgentFor, type ProxyFunc } from '../kube/proxy.ts';
import { loadParentAccess } from '../registration/dedicated-credentials.ts';
import type { DedicatedCredentials } from '../registration/wire.ts';
import { dialAllowList } from './dial-allow-list.ts';
import { defaultRelayLimits, StreamRelay, type RelayLimits } from './stream-relay.ts';
import { failureMessage } from '../../machines/failure.ts';

/** Largest websocket message accepted from the parent; larger ones end the session (close 1009). */
export const maxMessageBytes = 16 * 1024 * 1024;

export interface SocketTiming {
  readonly pingIntervalMs: number;
  readonly deadPeerTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly readerHeldTimeoutMs: number;
}

export interface SocketDeps {
  readonly log: Logger;
  /** `--tunnel-allowed-targets`: dial targets allowed besides the child apiserver (`*` = all). */
  readonly allowedTargets: readonly string[];
  /** The child cluster, to read the stored dedicated credentials (Secret `parent-cluster`). */
  readonly child?: KubeConfig;
  readonly systemNamespace?: string;
  /** Overrides where the token and CA come from (tests); default: the child Secret `parent-cluster`. */
  readonly loadCredentials?: (parentUrl: string) => Promise<DedicatedCredentials>;
  readonly random?: () => number;
  readonly limits?: Partial<RelayLimits>;
  readonly timing?: Partial<SocketTiming>;
  /** Replaces some of the chart's reconnect delays (tests of something other than the reconnect policy). */
  readonly reconnectDelays?: Partial<ReturnType<typeof reconnectDelays>>;
  /** Sees each session's relay (tests and metrics). */
  readonly onRelay?: (relay: StreamRelay) => void;
  /** HTTPS_PROXY/NO_PROXY as for the API calls (src/kube/proxy.ts); default: direct. */
  readonly proxyFor?: ProxyFunc;
}

/**
 * ws's `generateMask`: random masks that are never all zero. For a zero mask ws skips the masking copy
 * and queues the caller's buffer itself, here a view of the relay's shared read buffer, which the next
 * socket read overwrites before a corked or backed-up connection has sent it.
 */
export function nonZeroMasks(fill: (pool: Buffer) => void = (pool) => randomFillSync(pool)): (mask: Buffer) => void {
  const pool = Buffer.alloc(8192);
  let at = pool.length;
  return (mask) => {
    do {
      if (at === pool.length) {
        fill(pool);
        at = 0;
      }
      pool.copy(mask, 0, at, at + 4);
      at += 4;
    } while (mask.readUInt32BE(0) === 0);
  };
}

/** What each failure kind means, for the warning the agent writes when the tunnel's failure changes. */
export const tunnelFailureText: Readonly<Record<TunnelFailureKind, string>> = {
  unreachable: 'the parent is unreachable; redialling every second or so',
  status: 'the parent answers the handshake with an error status; backing off up to a minute',
  unauthorized: 'the parent rejects the dedicated token (401); registration re-checks it',
  forbidden: 'the parent refuses the tunnel (403); registration re-checks the credentials',
  dropped: 'the parent ends each session before answering a ping; backing off up to a minute',
  tls: 'TLS with the parent fails; backing off up to a minute',
  other: 'backing off up to a minute',
};

/** The socket statechart with the real effects provided. */
export function createSocketMachine(deps: SocketDeps): typeof socketMachine {
  const { log } = deps;
  const random = deps.random ?? Math.random;
  const limits: RelayLimits = { ...defaultRelayLimits, ...deps.limits };
  const timing: SocketTiming = {
    pingIntervalMs,
    deadPeerTimeoutMs,
    handshakeTimeoutMs,
    readerHeldTimeoutMs,
    ...deps.timing,
  };
  const proxyFor = deps.proxyFor ?? direct;
  const loggedOnce = new Set<string>();
  const generateMask = nonZeroMasks();
  const load =
    deps.loadCredentials ??
    (async (parentUrl: string): Promise<DedicatedCredentials> => {
      if (deps.child === undefined || deps.systemNamespace === undefined) {
        throw new Error('socket: no child cluster to read the dedicated credentials from');
      }
      return (await loadParentAccess(deps.child, deps.systemNamespace, parentUrl, proxyFor)).credentials;
    });
  // Read once per run of the machine, i.e. per leadership term (spec §5.1: the Go agent captures the
  // token once per term); again after a rejection.
  let cached: { readonly instance: string; readonly credentials: DedicatedCredentials } | undefined;

  const session = fromCallback<SessionCommand, SessionInput>(({ input, sendBack, receive }) => {
    let ws: WebSocket | undefined;
    let relay: StreamRelay | undefined;
    let ended = false;
    const send = (e: SocketEvent): void => {
      if (!ended) sendBack(e);
    };
    const end = (reason: string, status?: number, code?: string): void => {
      if (ended) return;
      relay?.close();
      if ((status === 401 || status === 403) && cached?.instance === input.instance) cached = undefined;
      send({
        type: 'tunnel.closed',
        reason,
        ...(status === undefined ? {} : { status }),
        ...(code === undefined ? {} : { code }),
      });
      ended = true;
    };

    const open = (creds: DedicatedCredentials): void => {
      if (ended) return;
      const agent = proxyAgentFor(input.url, proxyFor);
      // Direct connections: keep the raw socket, so the messages of one event-loop turn go out corked
      // together (one TLS record and one syscall instead of one each).
      let raw: Socket | undefined;
      const secure = input.url.startsWith('wss:');
      // ws hands over its TLS options (ca, …) with the connection options.
      const createConnection = (o: NetConnectOpts): Socket => {
        const host = 'host' in o ? (o.host ?? '') : '';
        raw = secure
          ? tlsConnect({ ...(o as ConnectionOptions), servername: isIP(host) === 0 ? host : '' })
          : netConnect(o);
        return raw;
      };
      // Corked until the end of this event-loop turn: an I/O detail of the write path (setImmediate),
      // not a lifecycle timer the machine would need to see.
      let corked = false;
      const uncork = (): void => {
        corked = false;
        raw?.uncork();
      };
      const socket = new WebSocket(input.url, {
        headers: { Authorization: `Bearer ${creds.token}` },
        perMessageDeflate: false,
        maxPayload: maxMessageBytes,
        followRedirects: false,
        generateMask,
        // Verified against the approved CA; without one (the parent sent none), against the system's
        // roots (the Go agent verifies nothing).
        ...(creds.caPem !== undefined ? { ca: creds.caPem } : {}),
        // ws types the hook as net.createConnection with its overloads; it only ever passes options.
        ...(agent !== undefined ? { agent } : { createConnection: createConnection as typeof netConnect }),
      });
      ws = socket;
      socket.binaryType = 'nodebuffer';
      socket.on('unexpected-response', (req, res) => {
        const status = res.statusCode ?? 0;
        end(`handshake: HTTP ${String(status)} ${res.statusMessage ?? ''}`.trim(), status);
        req.destroy();
        res.destroy();
      });
      socket.on('open', () => {
        const r = new StreamRelay(
          {
            send: (message, done) => {
              if (!corked && raw !== undefined) {
                corked = true;
                raw.cork();
                setImmediate(uncork);
              }
              socket.send(message, { binary: true }, done);
            },
            // Pongs are not read while the reader is held: the machine's liveness waits meanwhile.
            pauseReading: () => {
              socket.pause();
              send({ type: 'tunnel.held' });
            },
            resumeReading: () => {
              socket.resume();
              send({ type: 'tunnel.released' });
            },
            fail: (reason) => {
              end(reason);
              socket.terminate();
            },
          },
          dialAllowList(input.childServer, deps.allowedTargets),
          log,
          limits,
          random,
          loggedOnce,
        );
        relay = r;
        deps.onRelay?.(r);
        send({ type: 'tunnel.opened' });
      });
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        relay?.receive(data, isBinary);
      });
      socket.on('pong', () => {
        send({ type: 'tunnel.pong' });
      });
      // The parent is alive; whether it serves the tunnel, only a Pong to our ping says (the chart decides).
      socket.on('ping', () => {
        send({ type: 'tunnel.pinged' });
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        end(err.message, undefined, err.code);
      });
      socket.on('close', (code, reason) => {
        end(`closed by the parent (${String(code)}${reason.length > 0 ? `: ${reason.toString()}` : ''})`);
      });
    };

    receive(() => {
      // The only command: tunnel.ping.
      if (ws?.readyState === WebSocket.OPEN) ws.ping();
    });
    const ready =
      cached?.instance === input.instance
        ? Promise.resolve(cached.credentials)
        : load(input.parentUrl).then((credentials) => {
            cached = { instance: input.instance, credentials };
            return credentials;
          });
    ready.then(
      (creds) => {
        try {
          open(creds);
        } catch (err) {
          // A bad HTTPS_PROXY, say: new HttpsProxyAgent and new WebSocket throw on what they cannot use.
          ws?.terminate();
          end(`cannot open the tunnel: ${failureMessage(err)}`);
        }
      },
      (err: unknown) => {
        end(`dedicated credentials unavailable: ${failureMessage(err)}`);
      },
    );
    return () => {
      ended = true;
      relay?.close();
      ws?.terminate();
    };
  });

  return socketMachine.provide({
    actors: { session },
    delays: {
      ...reconnectDelays(random),
      ...deps.reconnectDelays,
      pingInterval: timing.pingIntervalMs,
      deadPeerTimeout: timing.deadPeerTimeoutMs,
      readerHeldTimeout: timing.readerHeldTimeoutMs,
      handshakeTimeout: timing.handshakeTimeoutMs,
    },
  });
}
