// The tunnel's websocket (spec §5.1), through isomorphic-ws (ws in Node): how it is opened with the
// dedicated token, and its events framed as one stream of typed session inputs. Framing only: what
// each input means for the session is `sessionStep` (machines/socket/session.ts).

import { randomFillSync } from 'node:crypto';
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import WebSocket from 'isomorphic-ws';
import { Observable } from 'rxjs';
import type { SessionSignal } from '../../machines/socket/session.ts';
import type { DedicatedCredentials } from '../parent/credentials-secret.ts';
import { proxyAgentFor, type ProxyFunc } from '../kube/proxy.ts';

/** Largest websocket message accepted from the parent; larger ones end the session (close 1009). */
export const maxMessageBytes = 16 * 1024 * 1024;

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

/** An open websocket and, for a direct connection, the raw socket under it (to cork writes). */
export interface TunnelSocket {
  readonly ws: WebSocket;
  readonly raw: () => Socket | undefined;
}

/**
 * The websocket to `url` with the dedicated token: TLS verified against the approved CA (or the
 * system's roots when the parent approved none; the Go agent verifies nothing), through the proxy
 * `proxyFor` picks. Throws on what it cannot use (a bad HTTPS_PROXY, say).
 */
export function openWebSocket(
  url: string,
  creds: DedicatedCredentials,
  proxyFor: ProxyFunc,
  generateMask: (mask: Buffer) => void,
): TunnelSocket {
  const agent = proxyAgentFor(url, proxyFor);
  // Direct connections: keep the raw socket, so the messages of one event-loop turn go out corked
  // together (one TLS record and one syscall instead of one each).
  let raw: Socket | undefined;
  const secure = url.startsWith('wss:');
  // ws hands over its TLS options (ca, …) with the connection options.
  const createConnection = (o: NetConnectOpts): Socket => {
    const host = 'host' in o ? (o.host ?? '') : '';
    raw = secure
      ? tlsConnect({ ...(o as ConnectionOptions), servername: isIP(host) === 0 ? host : '' })
      : netConnect(o);
    return raw;
  };
  const ws = new WebSocket(url, {
    headers: { Authorization: `Bearer ${creds.token}` },
    perMessageDeflate: false,
    maxPayload: maxMessageBytes,
    followRedirects: false,
    generateMask,
    ...(creds.caPem !== undefined ? { ca: creds.caPem } : {}),
    // ws types the hook as net.createConnection with its overloads; it only ever passes options.
    ...(agent !== undefined ? { agent } : { createConnection: createConnection as typeof netConnect }),
  });
  ws.binaryType = 'nodebuffer';
  return { ws, raw: () => raw };
}

/**
 * The websocket's events as session inputs, in the order they happen. A handshake answered with
 * another status than 101 has its request and response discarded here (ws leaves that to the caller).
 */
export function websocketInputs(ws: WebSocket): Observable<SessionSignal> {
  return new Observable<SessionSignal>((out) => {
    const onResponse = (
      req: { destroy(): void },
      res: { statusCode?: number; statusMessage?: string; destroy(): void },
    ) => {
      out.next({ type: 'ws.response', status: res.statusCode ?? 0, statusText: res.statusMessage ?? '' });
      req.destroy();
      res.destroy();
    };
    const onOpen = () => {
      out.next({ type: 'ws.open' });
    };
    const onMessage = (data: Buffer, isBinary: boolean) => {
      out.next({ type: 'ws.message', data, isBinary });
    };
    const onPong = () => {
      out.next({ type: 'ws.pong' });
    };
    const onPing = () => {
      out.next({ type: 'ws.ping' });
    };
    const onError = (err: NodeJS.ErrnoException) => {
      out.next({ type: 'ws.error', message: err.message, code: err.code });
    };
    const onClose = (code: number, reason: Buffer) => {
      out.next({ type: 'ws.close', code, reason: reason.toString() });
    };
    ws.on('unexpected-response', onResponse);
    ws.on('open', onOpen);
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('ping', onPing);
    ws.on('error', onError);
    ws.on('close', onClose);
    return () => {
      ws.off('unexpected-response', onResponse);
      ws.off('open', onOpen);
      ws.off('message', onMessage);
      ws.off('pong', onPong);
      ws.off('ping', onPing);
      // ws may still report an error while it is being terminated: keep a listener so it is not thrown.
      ws.off('close', onClose);
    };
  });
}
