// The tunnel against the real Go remotedialer server (at the version Clusternet pins and at the latest
// release) and the real child apiserver: the server proxies HTTP to the child *through* the agent's
// tunnel, as the hub does.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyFromEnvironment } from '../../../src/kube/proxy.ts';
import { buildCredentialsSecret } from '../../../src/parent/credentials-secret.ts';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { GoTunnelServer, remotedialerVersions } from '../../peers/remotedialer/peer.ts';
import { startConnectProxy } from '../helpers/connect-proxy.ts';
import { runTunnel, streamUntil, type RunningTunnel } from './harness.ts';

const env = testEnv();
/** The test network namespace's own address (test/env/netns.ts); unset on the host's loopback. */
const advertised = process.env.CNAT_ADVERTISE_ADDRESS;
const childHostPort = new URL(env.server('child')).host;

/**
 * An HTTP target that does not read a request for `stallMs` (a slow consumer), then answers with the
 * SHA-256 and length of its body (Content-Length bodies only).
 */
async function stallingTarget(stallMs: number): Promise<{ address: string; server: Server }> {
  const server = createTcpServer((socket) => {
    socket.pause();
    socket.on('error', () => undefined);
    setTimeout(() => {
      let head = Buffer.alloc(0);
      let want = -1;
      let got = 0;
      const hash = createHash('sha256');
      socket.on('data', (d: Buffer) => {
        let body = d;
        if (want < 0) {
          head = Buffer.concat([head, d]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          want = Number(/content-length: *(\d+)/i.exec(head.subarray(0, end).toString())?.[1] ?? 0);
          body = head.subarray(end + 4);
        }
        got += body.length;
        hash.update(body);
        if (got >= want) {
          const text = `${hash.digest('hex')} ${String(got)}`;
          socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${String(text.length)}\r\nConnection: close\r\n\r\n${text}`);
        }
      });
      socket.resume();
    }, stallMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { address: `127.0.0.1:${String(typeof a === 'object' && a !== null ? a.port : 0)}`, server };
}

describe.each(remotedialerVersions.remotedialer)('tunnel through the Go remotedialer %s server', (version) => {
  const clusterId = randomUUID();
  const token = randomBytes(16).toString('hex');
  const ns = `tun-${randomBytes(3).toString('hex')}`;
  let server: GoTunnelServer;
  let tunnel: RunningTunnel;
  let stalling: { address: string; server: Server };
  const stallMs = 8000;
  /** v0.3.0 and later send and honour Pause/Resume; the d1ebd52 library has neither. */
  const knowsPause = !version.includes('d1ebd52');
  const core = env.adminClient('child', CoreV1Api);
  const api = (path: string): string => server.proxyUrl(clusterId, 'https', childHostPort, path);

  beforeAll(async () => {
    server = await GoTunnelServer.start({ version, token, upstream: env.adminKubeConfig('child') });
    stalling = await stallingTarget(stallMs);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    // The stored dedicated credentials, as registration leaves them in the child.
    await core.createNamespacedSecret({
      namespace: ns,
      body: buildCredentialsSecret({
        namespace: ns,
        clusterId,
        clusterName: 'tunnel-test',
        dedicatedNamespace: 'clusternet-tunnel',
        parentUrl: server.url,
        credentials: { token, caPem: server.caPem },
      }),
    });
    tunnel = runTunnel(
      { parentUrl: server.url, clusterId, childServer: env.server('child') },
      {
        child: env.adminKubeConfig('child'),
        systemNamespace: ns,
        allowedTargets: [server.origin, stalling.address],
        timing: { pingIntervalMs: 1000, deadPeerTimeoutMs: 4000 },
      },
    );
    await tunnel.waitOpen();
    await eventually('the server sees the session', async () =>
      (await server.hasSession(clusterId)) ? true : undefined,
    );
  }, 120_000);

  afterAll(async () => {
    tunnel.stop();
    await server.stop();
    stalling.server.close();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('lists namespaces of the child through the tunnel', async () => {
    const res = await server.call(api('/api/v1/namespaces'));
    expect(res.status).toBe(200);
    const names = (JSON.parse(res.body.toString()) as { items: { metadata: { name: string } }[] }).items.map(
      (i) => i.metadata.name,
    );
    expect(names).toContain('default');
    expect(names).toContain(ns);
    expect(tunnel.errors).toEqual([]);
  });

  it('watches namespaces through the tunnel, across pings', async () => {
    const name = `tw-${randomBytes(3).toString('hex')}`;
    const watch = streamUntil(
      api(`/api/v1/namespaces?watch=1&fieldSelector=metadata.name%3D${name}`),
      server.caPem,
      (b) => b.includes('"ADDED"'),
      30_000,
    );
    await watch.connected;
    // Several ping intervals (1 s here) with the watch idle, then an event must still come through.
    await new Promise((r) => setTimeout(r, 4500));
    await core.createNamespace({ body: { metadata: { name } } });
    const body = await watch.done;
    expect(body).toContain(`"name":"${name}"`);
    expect(tunnel.actor.getSnapshot().context.sessions).toBe(1);
    await core.deleteNamespace({ name });
  }, 60_000);

  it('carries 10 MB of ConfigMaps both ways: created and listed through the tunnel', async () => {
    const chunk = randomBytes(700 * 1024).toString('base64'); // ~933 KiB of text per object
    const count = 11;
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const body = Buffer.from(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: `big-${String(i)}` },
            data: { chunk },
          }),
        );
        const res = await server.call(api(`/api/v1/namespaces/${ns}/configmaps`), {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          timeoutMs: 60_000,
        });
        expect(res.status, res.body.toString().slice(0, 200)).toBe(201);
      }),
    );
    const list = await server.call(api(`/api/v1/namespaces/${ns}/configmaps`), { timeoutMs: 60_000 });
    expect(list.status).toBe(200);
    expect(list.body.length).toBeGreaterThan(10 * 1000 * 1000);
    const items = (JSON.parse(list.body.toString()) as { items: { data?: { chunk?: string } }[] }).items.filter(
      (i) => i.data?.chunk !== undefined,
    );
    expect(items).toHaveLength(count);
    for (const i of items) expect(i.data?.chunk === chunk).toBe(true);
  }, 120_000);

  // One direction at a time: a large full-duplex stream (an echo) can stall remotedialer itself, with
  // the Go client as well (one `paused` flag per connection serves both directions of Pause/Resume).
  it('uploads 10 MB through the tunnel intact', async () => {
    const body = randomBytes(10 * 1024 * 1024);
    const res = await server.call(server.proxyUrl(clusterId, 'http', server.origin, '/sha256'), {
      method: 'POST',
      body,
      timeoutMs: 60_000,
    });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(`${createHash('sha256').update(body).digest('hex')} ${String(body.length)}`);
  }, 60_000);

  it('downloads 10 MB through the tunnel intact', async () => {
    const n = 10 * 1024 * 1024;
    const res = await server.call(server.proxyUrl(clusterId, 'http', server.origin, `/bytes?n=${String(n)}`), {
      timeoutMs: 60_000,
    });
    expect(res.status).toBe(200);
    expect(res.body.equals(Buffer.from('0123456789abcdef'.repeat(n / 16)))).toBe(true);
  }, 60_000);

  // The target stalls for twice the dead-peer timeout (4 s here): with Pause/Resume the stalled stream
  // is paused and the others flow; without (d1ebd52), the reader is held, which must not count as a
  // dead parent. Either way the agent's buffer stays bounded and the upload arrives intact.
  it(`a stalled upload beside fast requests: ${knowsPause ? 'paused, the others flow' : 'reader held, the session lives'}; memory bounded`, async () => {
    const body = randomBytes(32 * 1024 * 1024);
    const relay = tunnel.relays.at(-1);
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, relay?.stats.inboundBytes ?? 0);
    }, 20);
    try {
      const t0 = performance.now();
      const upload = server.call(server.proxyUrl(clusterId, 'http', stalling.address, '/'), {
        method: 'POST',
        body,
        timeoutMs: 90_000,
      });
      await new Promise((r) => setTimeout(r, 3000));
      if (knowsPause) {
        // Mid-stall: other streams go through at once.
        for (let i = 0; i < 5; i++) {
          const t = performance.now();
          const res = await server.call(api('/version'), { timeoutMs: 5000 });
          expect(res.status).toBe(200);
          expect(performance.now() - t).toBeLessThan(1500);
        }
        expect(performance.now() - t0).toBeLessThan(stallMs);
      }
      const res = await upload;
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe(`${createHash('sha256').update(body).digest('hex')} ${String(body.length)}`);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(stallMs - 100);
    } finally {
      clearInterval(sampler);
    }
    // Pause above 2 MiB (plus what was in flight until the hub acted on it: up to 6.4 MiB seen in a CI run
    // on busy cores); without Pause, the hold at 2 + 16 MiB, which the bound with Pause stays clear of.
    expect(peak).toBeGreaterThan(1024 * 1024);
    expect(peak).toBeLessThan(knowsPause ? 12 * 1024 * 1024 : 24 * 1024 * 1024);
    expect(tunnel.actor.getSnapshot().context.sessions).toBe(1);
    expect(tunnel.states.filter((s) => s.to === 'backingOff')).toEqual([]);
    const res = await server.call(api('/version'));
    expect(res.status).toBe(200);
  }, 120_000);

  it('serves 100 concurrent streams: 100 watches open at once all see one event', async () => {
    const name = `tc-${randomBytes(3).toString('hex')}`;
    const watches = Array.from({ length: 100 }, () =>
      streamUntil(
        api(`/api/v1/namespaces?watch=1&fieldSelector=metadata.name%3D${name}`),
        server.caPem,
        (b) => b.includes('"ADDED"'),
        60_000,
      ),
    );
    await Promise.all(watches.map((w) => w.connected));
    // Each open watch holds one tunnel stream (idle pooled connections may be reused, so count streams open now).
    expect(tunnel.relays.at(-1)?.stats.streams ?? 0).toBeGreaterThanOrEqual(100);
    await core.createNamespace({ body: { metadata: { name } } });
    const bodies = await Promise.all(watches.map((w) => w.done));
    for (const b of bodies) expect(b).toContain(`"name":"${name}"`);
    await core.deleteNamespace({ name });
  }, 90_000);

  it('refuses a dial target outside the allow-list with an Error for that stream; the session goes on', async () => {
    const refused = await server.call(server.proxyUrl(clusterId, 'http', '127.0.0.1:1', '/'));
    expect(refused.status).toBe(502);
    expect(refused.body.toString()).toContain('connect not allowed');
    const ok = await server.call(api('/version'));
    expect(ok.status).toBe(200);
    expect(tunnel.actor.getSnapshot().context.sessions).toBe(1);
    expect(tunnel.logs.filter((l) => l.msg.includes('refused a dial')).length).toBe(1);
  });

  it('reconnects within 2 s of the server coming back after it was killed', async () => {
    await server.process.kill();
    await eventually('the tunnel notices', () =>
      Promise.resolve(tunnel.actor.getSnapshot().matches('session') ? undefined : true),
    );
    // Long enough for the backoff to reach its cap.
    await new Promise((r) => setTimeout(r, 4000));
    await server.process.start();
    const back = performance.now();
    const open = await tunnel.waitOpen(10_000);
    expect(open - back).toBeLessThan(2000);
    const res = await server.call(api('/api/v1/namespaces/default'));
    expect(res.status).toBe(200);
    expect(tunnel.errors).toEqual([]);
  }, 60_000);
});

/**
 * A TLS front for the Go server (its certificate, another port) that answers the websocket handshake as a
 * hub still starting does: `answers(n)` says, for the nth handshake, the status to answer with, or
 * undefined to pass the handshake (and the session) through to the real server.
 */
async function startingHubFront(server: GoTunnelServer, answers: (n: number) => number | undefined) {
  const handshakes: { at: number; status: number | undefined }[] = [];
  const front = createHttpsServer({
    cert: await readFile(server.pki.apiserverCert),
    key: await readFile(server.pki.apiserverKey),
  });
  front.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const status = answers(handshakes.length + 1);
    handshakes.push({ at: performance.now(), status });
    if (status !== undefined) {
      socket.end(`HTTP/1.1 ${String(status)} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    const upstream = tlsConnect({ host: '127.0.0.1', port: server.port, ca: server.caPem }, () => {
      const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i] ?? ''}: ${req.rawHeaders[i + 1] ?? ''}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${String(port)}`,
    handshakes,
    close: () => new Promise((r) => front.close(r)),
  };
}

describe('tunnel handshake', () => {
  // Issue 13 defect #3: a hub still starting answers 403 for a moment; the agent took that for rejected
  // credentials and waited 42–60 s, with the attempt count of the 503s before it.
  it('a 503, then 403s from a hub still starting: redialled as soon as registration confirms; open ≤ 2 s after it serves', async () => {
    const version = remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
    const server = await GoTunnelServer.start({ version, token: 'right' });
    const front = await startingHubFront(server, (n) => [503, 403, 403][n - 1]);
    const clusterId = randomUUID();
    const rechecks: number[] = [];
    const tunnel: RunningTunnel = runTunnel(
      { parentUrl: front.url, clusterId, childServer: env.server('child') },
      {
        allowedTargets: [],
        loadCredentials: () => Promise.resolve({ token: 'right', caPem: server.caPem }),
        // Registration's part: the credentials re-check passes a moment later (9 ms in the issue).
        onCredentialsRejected: () => {
          rechecks.push(performance.now());
          setTimeout(() => {
            tunnel.actor.send({ type: 'credentials.confirmed' });
          }, 9);
        },
      },
    );
    try {
      const open = await tunnel.waitOpen(30_000);
      expect(front.handshakes.map((h) => h.status)).toEqual([503, 403, 403, undefined]);
      const serves = front.handshakes.at(-2)?.at ?? 0; // the last 403: the hub serves from then on
      console.log(`open ${(open - serves).toFixed(0)} ms after the hub served (the last 403)`);
      expect(open - serves).toBeLessThan(2000);
      expect(rechecks).toHaveLength(2);
      expect(await server.hasSession(clusterId)).toBe(true);
      expect(tunnel.errors).toEqual([]);
    } finally {
      tunnel.stop();
      await front.close();
      await server.stop();
    }
  }, 60_000);

  // Issue 13 defect #5: against a parent answering 404 the agent redialled about 40 times a minute.
  it('a parent answering 404 (the real Go server, a path it does not serve) is redialled 4 s doubling, not every second', async () => {
    const version = remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
    const server = await GoTunnelServer.start({ version, token: 'right' });
    const tunnel = runTunnel(
      { parentUrl: `${server.url}/not-served/`, clusterId: randomUUID(), childServer: env.server('child') },
      { allowedTargets: [], loadCredentials: () => Promise.resolve({ token: 'right', caPem: server.caPem }) },
    );
    try {
      await new Promise((r) => setTimeout(r, 15_000));
      const attempts = tunnel.states.filter(
        (s) => s.to === 'session.connecting' || s.to === 'session.reconnecting',
      ).length;
      console.log(`${String(attempts)} handshakes answered 404 in 15 s`);
      expect(tunnel.actor.getSnapshot().context.lastFailure).toMatch(/HTTP 404/);
      // 0, 2.8–4, 8.4–12 s (4 s doubling, up to 30 % shorter): 3 or 4 in 15 s; before, about 13.
      expect(attempts).toBeGreaterThanOrEqual(3);
      expect(attempts).toBeLessThanOrEqual(4);
      expect(
        tunnel.logs.filter((l) => l.level === 40 && l.msg.startsWith('the tunnel to the parent fails')),
      ).toHaveLength(1);
    } finally {
      tunnel.stop();
      await server.stop();
    }
  }, 60_000);

  // client-go never proxies loopback addresses, so the server listens on the test network namespace's
  // own address (skipped, saying why, on the host's loopback).
  it.skipIf(advertised === undefined)(
    "goes through HTTPS_PROXY (CONNECT) unless NO_PROXY matches, with the API calls' rules; TLS verified end to end",
    async () => {
      const version = remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
      const server = await GoTunnelServer.start({ version, token: 'right', listenHost: advertised ?? '' });
      const proxy = await startConnectProxy();
      const { connects, url: proxyUrl } = proxy;
      const clusterId = randomUUID();
      const run = (environment: Record<string, string>) =>
        runTunnel(
          { parentUrl: server.url, clusterId, childServer: env.server('child') },
          {
            allowedTargets: [],
            proxyFor: proxyFromEnvironment(environment),
            loadCredentials: () => Promise.resolve({ token: 'right', caPem: server.caPem }),
          },
        );
      const tunnel = run({ HTTPS_PROXY: proxyUrl });
      try {
        await tunnel.waitOpen();
        expect(connects).toEqual([`${advertised ?? ''}:${String(server.port)}`]);
        tunnel.stop();
        const direct = run({ HTTPS_PROXY: proxyUrl, NO_PROXY: `${advertised ?? ''}/32` });
        await direct.waitOpen();
        direct.stop();
        expect(connects).toHaveLength(1);
      } finally {
        tunnel.stop();
        await proxy.close();
        await server.stop();
      }
    },
  );

  it('a wrong token (401) emits credentials.rejected and keeps retrying slowly', async () => {
    const version = remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
    const server = await GoTunnelServer.start({ version, token: 'right' });
    const tunnel = runTunnel(
      { parentUrl: server.url, clusterId: randomUUID(), childServer: env.server('child') },
      { allowedTargets: [], loadCredentials: () => Promise.resolve({ token: 'wrong', caPem: server.caPem }) },
    );
    try {
      await eventually('credentials.rejected is emitted', () =>
        Promise.resolve(tunnel.emitted.length > 0 ? true : undefined),
      );
      expect(tunnel.emitted[0]).toMatch(/HTTP 401/);
      expect(tunnel.states.map((s) => s.to)).toEqual(['session.connecting', 'rejected']);
    } finally {
      tunnel.stop();
      await server.stop();
    }
  }, 60_000);

  it('a token the real parent apiserver authenticates but does not authorize (403) emits credentials.rejected', async () => {
    // A bootstrap token: authenticated, and without any right on sockets.proxies.clusternet.io.
    const token = await env.createBootstrapToken('parent', {});
    const tunnel = runTunnel(
      { parentUrl: env.server('parent'), clusterId: randomUUID(), childServer: env.server('child') },
      {
        allowedTargets: [],
        loadCredentials: () => Promise.resolve({ token: token.token, caPem: env.caPem('parent') }),
      },
    );
    try {
      await eventually('credentials.rejected is emitted', () =>
        Promise.resolve(tunnel.emitted.length > 0 ? true : undefined),
      );
      expect(tunnel.emitted[0]).toMatch(/HTTP 403/);
      // Registration is asked to re-check; the tunnel waits for its answer (or the fallback).
      expect(tunnel.states.map((s) => s.to)).toEqual([
        'session.connecting',
        'recheckingCredentials.awaitingConfirmation',
      ]);
      expect(tunnel.errors).toEqual([]);
    } finally {
      tunnel.stop();
    }
  }, 60_000);

  it('without an approved CA the parent certificate is verified against the system roots: no session', async () => {
    const version = remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
    const server = await GoTunnelServer.start({ version, token: 'right' });
    const clusterId = randomUUID();
    const tunnel = runTunnel(
      { parentUrl: server.url, clusterId, childServer: env.server('child') },
      { allowedTargets: [], loadCredentials: () => Promise.resolve({ token: 'right', caPem: undefined }) },
    );
    try {
      await eventually('a failed attempt', () =>
        Promise.resolve(tunnel.actor.getSnapshot().context.attempt >= 2 ? true : undefined),
      );
      expect(tunnel.actor.getSnapshot().context.lastFailure).toMatch(/certificate/i);
      expect(await server.hasSession(clusterId)).toBe(false);
    } finally {
      tunnel.stop();
      await server.stop();
    }
  }, 60_000);

  it('a parent certificate from another CA fails TLS verification: no session', async () => {
    const version = remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
    const server = await GoTunnelServer.start({ version, token: 'right' });
    const other = await GoTunnelServer.start({ version, token: 'x' });
    const clusterId = randomUUID();
    const tunnel = runTunnel(
      { parentUrl: server.url, clusterId, childServer: env.server('child') },
      { allowedTargets: [], loadCredentials: () => Promise.resolve({ token: 'right', caPem: other.caPem }) },
    );
    try {
      await eventually('a failed attempt', () =>
        Promise.resolve(tunnel.actor.getSnapshot().context.attempt >= 2 ? true : undefined),
      );
      expect(tunnel.actor.getSnapshot().context.lastFailure).toMatch(/certificate/i);
      expect(await server.hasSession(clusterId)).toBe(false);
    } finally {
      tunnel.stop();
      await other.stop();
      await server.stop();
    }
  }, 60_000);
});
