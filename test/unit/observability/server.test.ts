import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type SecureVersion } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../../src/config/config.ts';
import { AgentMetrics } from '../../../src/observability/metrics.ts';
import { servingCertificate, startHealthServer, type HealthServer } from '../../../src/observability/server.ts';
import { httpGet } from '../../env/net.ts';

const log = pino({ level: 'silent' });
const serving = (over: Partial<AgentConfig['serving']> = {}): AgentConfig['serving'] => ({
  bindAddress: '127.0.0.1',
  securePort: 0,
  certDir: '',
  tlsCertFile: '',
  tlsPrivateKeyFile: '',
  tlsMinVersion: 'TLSv1.2',
  cipherSuites: undefined,
  sniCertKeys: [],
  reusePort: false,
  insecure: false,
  ...over,
});

describe('serving certificate', () => {
  it('is written to --cert-dir once and reused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certdir-'));
    try {
      const first = await servingCertificate(serving({ certDir: dir }), log);
      expect(readFileSync(join(dir, 'clusternet-agent.crt'), 'utf8')).toBe(first.certPem);
      expect((await servingCertificate(serving({ certDir: dir }), log)).certPem).toBe(first.certPem);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('health and metrics server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves health, readiness and metrics over HTTPS with a self-signed certificate', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    let ready = false;
    server = await startHealthServer({
      serving: serving(),
      metrics,
      readiness: () => ({ ready, reasons: ready ? [] : ['not registered'] }),
      log,
    });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await httpGet(`${server.url}/healthz`)).toEqual({ status: 200, body: 'ok' });
    expect((await httpGet(`${server.url}/healthz/ping`)).status).toBe(200);
    expect((await httpGet(`${server.url}/livez`)).status).toBe(200);
    expect(await httpGet(`${server.url}/readyz`)).toEqual({ status: 503, body: 'not ready: not registered\n' });
    ready = true;
    expect((await httpGet(`${server.url}/readyz`)).status).toBe(200);
    expect((await httpGet(`${server.url}/nope`)).status).toBe(404);

    metrics.observeTransition({ machine: 'agent', from: '', to: 'standby', event: 'xstate.init' });
    metrics.observeTransition({
      machine: 'agent',
      from: 'standby',
      to: 'leading.registering',
      event: 'lease.acquired',
    });
    metrics.observeRoot({ leading: true, registered: false }, { leading: false, registered: false });
    metrics.observeReport({
      type: 'registration.registered',
      clusterId: 'id',
      clusterName: undefined,
      dedicatedNamespace: 'ns',
    });
    metrics.observeReport({ type: 'credentials.confirmed' });
    metrics.observeTransition({ machine: 'agent', from: 'leading.registering', to: 'leading.serving', event: 'x' });
    metrics.observeRoot({ leading: true, registered: true }, { leading: true, registered: false });
    metrics.tunnelBytes.inc({ direction: 'sent' }, 42);
    metrics.heartbeatLatency.observe(0.2);
    const text = (await httpGet(`${server.url}/metrics`)).body;
    expect(text).toMatch(/^clusternet_agent_leader 1$/m);
    expect(text).toMatch(/^clusternet_agent_registered 1$/m);
    expect(text).toMatch(/^clusternet_agent_registration_results_total\{result="registered"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_machine_state\{machine="agent",state="standby"\} 0$/m);
    expect(text).toMatch(/^clusternet_agent_machine_state\{machine="agent",state="leading.serving"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_state_transitions_total\{machine="agent",to="leading.serving"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_leader_changes_total\{change="started"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_bytes_total\{direction="sent"\} 42$/m);
    expect(text).toMatch(/^clusternet_agent_heartbeat_report_duration_seconds_count 1$/m);
  });

  it.each([
    ['TLSv1', ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']],
    ['TLSv1.1', ['TLSv1.1', 'TLSv1.2', 'TLSv1.3']],
    ['TLSv1.2', ['TLSv1.2', 'TLSv1.3']],
    ['TLSv1.3', ['TLSv1.3']],
  ] as const)('with --tls-min-version %s, speaks %j', async (min, accepted) => {
    server = await startHealthServer({
      serving: serving({ tlsMinVersion: min }),
      metrics: new AgentMetrics({ processMetrics: false }),
      readiness: () => ({ ready: true, reasons: [] }),
      log,
    });
    const port = Number(new URL(server.url).port);
    const handshake = (v: SecureVersion): Promise<string> =>
      new Promise((resolve) => {
        // The client allows old versions too, so that only the server decides.
        const c = connect(
          {
            host: '127.0.0.1',
            port,
            rejectUnauthorized: false,
            minVersion: v,
            maxVersion: v,
            ciphers: 'DEFAULT@SECLEVEL=0',
          },
          () => {
            resolve(c.getProtocol() ?? '');
            c.end();
          },
        );
        c.on('error', () => {
          resolve('refused');
        });
      });
    const all = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
    const spoken = await Promise.all(all.map(handshake));
    expect(spoken).toEqual(all.map((v) => ((accepted as readonly string[]).includes(v) ? v : 'refused')));
  });

  it('serves plain HTTP with --insecure-serving', async () => {
    server = await startHealthServer({
      serving: serving({ insecure: true }),
      metrics: new AgentMetrics({ processMetrics: false }),
      readiness: () => ({ ready: true, reasons: [] }),
      log,
    });
    expect(server.url).toMatch(/^http:\/\//);
    expect((await httpGet(`${server.url}/readyz`)).status).toBe(200);
  });

  it('fails to start when the port is taken', async () => {
    server = await startHealthServer({
      serving: serving({ insecure: true }),
      metrics: new AgentMetrics({ processMetrics: false }),
      readiness: () => ({ ready: true, reasons: [] }),
      log,
    });
    const port = Number(new URL(server.url).port);
    await expect(
      startHealthServer({
        serving: serving({ insecure: true, securePort: port }),
        metrics: new AgentMetrics({ processMetrics: false }),
        readiness: () => ({ ready: true, reasons: [] }),
        log,
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
