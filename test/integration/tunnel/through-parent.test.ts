// The tunnel as it runs in production: the agent registers with the real parent through the test
// approver (which grants the per-cluster `sockets` rule, as the controller-manager does with
// SocketConnection on), and dials the *parent apiserver*, which authenticates the dedicated token,
// authorizes `get sockets/<id>` and proxies the websocket upgrade to the hub's tunnel end (the Go
// remotedialer server registered as the aggregated API v1alpha1.proxies.clusternet.io). The hub then
// reaches the child apiserver through the tunnel.

import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { eventually } from '../../env/eventually.ts';
import { httpGet } from '../../env/net.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { hubUnavailableReason, startTunnelHub } from '../../peers/remotedialer/hub.ts';
import type { GoTunnelServer } from '../../peers/remotedialer/peer.ts';
import { AgentProcess } from '../helpers/agent-process.ts';
import { startTunnelledAgent } from '../helpers/tunnelled-agent.ts';
import { runTunnel, type RunningTunnel } from './harness.ts';

const env = testEnv();
const skipReason = hubUnavailableReason(env);
if (skipReason !== undefined) process.stdout.write(`skipping the tunnel through the parent: ${skipReason}\n`);

describe.skipIf(skipReason !== undefined)('tunnel through the real parent apiserver', () => {
  let hub: GoTunnelServer;
  let approver: TestApprover;
  let tunnel: RunningTunnel | undefined;
  let agent: AgentProcess | undefined;

  beforeAll(async () => {
    await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
    approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true });
    approver.start();
    hub = await startTunnelHub(env, 'v0.3.0');
  }, 120_000);
  afterAll(async () => {
    tunnel?.stop();
    await agent?.stop();
    await approver.stop();
    await hub.stop();
  });

  it('the agent with SocketConnection: tunnel up through the parent, /readyz ready, metrics, hub reaches the child', async () => {
    const started = await startTunnelledAgent(env, { namespacePrefix: 'tp' });
    agent = started.agent;
    const { port } = started;
    const registered = await agent.waitForLine('registration', (l) => typeof l.clusterId === 'string');
    const clusterId = registered.clusterId as string;
    await eventually('the hub sees the session', async () => ((await hub.hasSession(clusterId)) ? true : undefined));
    const ready = await eventually('the agent ready', async () => {
      const r = await httpGet(`http://127.0.0.1:${String(port)}/readyz`, { timeoutMs: 2000 });
      return r.status === 200 ? r : undefined;
    });
    expect(ready.status).toBe(200);
    const child = new URL(env.server('child')).host;
    const res = await hub.call(hub.proxyUrl(clusterId, 'https', child, '/version'));
    expect(res.status).toBe(200);
    const metrics = (await httpGet(`http://127.0.0.1:${String(port)}/metrics`, { timeoutMs: 2000 })).body;
    expect(metrics).toMatch(/^clusternet_agent_tunnel_up 1$/m);
    expect(metrics).toMatch(/^clusternet_agent_tunnel_bytes_total\{direction="sent"\} [1-9]/m);
    await agent.stop();
    agent = undefined;
  });

  it('registers, opens the tunnel at the parent URL with the dedicated token, and serves the hub', async () => {
    const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
    const ns = `tp-${randomBytes(3).toString('hex')}`;
    await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    agent = AgentProcess.start([
      `--cluster-reg-parent-url=${env.server('parent')}`,
      `--cluster-reg-token=${token.token}`,
      `--kubeconfig=${env.adminKubeconfigPath('child')}`,
      `--leader-elect-resource-namespace=${ns}`,
    ]);
    const registered = await agent.waitForLine('registration', (l) => typeof l.clusterId === 'string');
    const clusterId = registered.clusterId as string;
    await agent.stop();

    tunnel = runTunnel(
      { parentUrl: env.server('parent'), clusterId, childServer: env.server('child') },
      { child: env.adminKubeConfig('child'), systemNamespace: ns, allowedTargets: [] },
    );
    await tunnel.waitOpen();
    await eventually('the hub sees the session', async () => ((await hub.hasSession(clusterId)) ? true : undefined));
    const child = new URL(env.server('child')).host;
    const res = await hub.call(hub.proxyUrl(clusterId, 'https', child, `/api/v1/namespaces/${ns}`));
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body.toString()) as { metadata: { name: string } }).metadata.name).toBe(ns);
  });
});
