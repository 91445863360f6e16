// The agent as operators run it, at the default verbosity (-v=2): a healthy registered leader with its
// tunnel up writes at most one line a minute (lease renewals, collections and reports are at debug),
// and a parent outage says so once (a warning per kind of failure) and says the recovery once, instead
// of a line per retry. The real agent process, the real parent and child apiservers and the Go
// remotedialer hub behind the parent (as in tunnel/through-parent.test.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareParent, TestApprover } from '../../approver/approver.ts';
import { eventually } from '../../env/eventually.ts';
import { httpGet } from '../../env/net.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { hubUnavailableReason, startTunnelHub } from '../../peers/remotedialer/hub.ts';
import type { GoTunnelServer } from '../../peers/remotedialer/peer.ts';
import { AgentProcess, type LogLine } from '../helpers/agent-process.ts';
import { startTunnelledAgent } from '../helpers/tunnelled-agent.ts';

const env = testEnv();
const skipReason = hubUnavailableReason(env);
if (skipReason !== undefined) process.stdout.write(`skipping the log-volume tests: ${skipReason}\n`);

/** What an operator sees at the default level: info and above (debug and trace are -v=4+). */
const shown = (l: LogLine): boolean => l.level !== 'debug' && l.level !== 'trace';
const describeLines = (ls: readonly LogLine[]): string =>
  ls.map((l) => `${String(l.level)} ${typeof l.component === 'string' ? l.component : ''} ${String(l.msg)}`).join('\n');

describe.skipIf(skipReason !== undefined)('log volume at the default verbosity', () => {
  let hub: GoTunnelServer;
  let approver: TestApprover;
  let agent: AgentProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
    approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true });
    approver.start();
    hub = await startTunnelHub(env, 'v0.3.0');
    ({ agent, port } = await startTunnelledAgent(env, {
      namespacePrefix: 'lv',
      args: [
        '--v=2', // the default, said explicitly: the test helper runs agents at -v=4 otherwise
        // The default report period (3m) would not fall in the window; a report every 20 s does.
        '--cluster-status-update-frequency=20s',
      ],
    }));
    await eventually('the agent ready', async () => {
      const r = await httpGet(`http://127.0.0.1:${String(port)}/readyz`, { timeoutMs: 2000 });
      return r.status === 200 ? r : undefined;
    });
  }, 180_000);
  afterAll(async () => {
    await agent?.stop();
    await approver.stop();
    await hub.stop();
  });

  it('an idle leader with its tunnel up writes at most 1 line a minute at -v=2', async () => {
    const a = agent!; // eslint-disable-line @typescript-eslint/no-non-null-assertion -- set by beforeAll
    // Let start-up settle (the first report, the deployer publishing its Secret), then count.
    await sleep(10_000);
    const from = a.lines.length;
    await sleep(60_000);
    const window = a.lines.slice(from);
    const seen = window.filter(shown);
    expect(seen.length, describeLines(seen)).toBeLessThanOrEqual(1);
    // Debug lines are written at -v=4 only: none here, though renewals ran every 2 s.
    expect(window.filter((l) => l.level === 'debug')).toEqual([]);
  }, 120_000);

  it('serves the standard metric names: process_*, nodejs_*, rest_client_*, workqueue_*, leader_election_*', async () => {
    const text = (await httpGet(`http://127.0.0.1:${String(port)}/metrics`, { timeoutMs: 5000 })).body;
    // prom-client's default metrics under their own names (no clusternet_agent_ prefix).
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    expect(text).not.toMatch(/^clusternet_agent_process_/m);
    // Requests to both apiservers, from client-node's typed APIs (the Lease) and raw requests alike.
    const parentHost = new URL(env.server('parent')).host;
    const childHost = new URL(env.server('child')).host;
    expect(text).toMatch(
      new RegExp(`^rest_client_requests_total\\{host="${childHost}",verb="PUT",code="200"\\} [1-9]`, 'm'),
    );
    expect(text).toMatch(
      new RegExp(`^rest_client_requests_total\\{host="${parentHost}",verb="GET",code="200"\\} [1-9]`, 'm'),
    );
    expect(text).toMatch(
      new RegExp(`^rest_client_request_duration_seconds_count\\{host="${childHost}",verb="GET"\\} [1-9]`, 'm'),
    );
    for (const name of ['adds_total', 'depth', 'retries_total']) {
      expect(text).toMatch(new RegExp(`^workqueue_${name}\\{name="description"\\} \\d+`, 'm'));
    }
    expect(text).toMatch(/^# TYPE workqueue_queue_duration_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE workqueue_work_duration_seconds histogram$/m);
    expect(text).toMatch(/^leader_election_master_status\{name="clusternet-agent"\} 1$/m);
    // The agent's own series stay.
    expect(text).toMatch(/^clusternet_agent_leader 1$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_up 1$/m);
  });

  it('serves CPU and heap profiles in pprof format under /debug/pprof/ (--profiling, on by default)', async () => {
    for (const path of ['/debug/pprof/profile?seconds=1', '/debug/pprof/heap']) {
      const res = await fetch(`http://127.0.0.1:${String(port)}${path}`);
      expect(res.status, path).toBe(200);
      const body = gunzipSync(Buffer.from(await res.arrayBuffer()));
      const profile = Profile.decode(body);
      expect(profile.sampleType.length, path).toBe(2);
      expect(profile.location.length, path).toBeGreaterThan(0);
    }
  });

  it('a parent outage: one warning per kind of failure and one line per recovery, not a line per retry', async () => {
    const a = agent!; // eslint-disable-line @typescript-eslint/no-non-null-assertion -- set by beforeAll
    const from = a.lines.length;
    await env.component('parent', 'kube-apiserver').stop();
    try {
      await sleep(45_000);
    } finally {
      await env.component('parent', 'kube-apiserver').start();
    }
    await eventually(
      'the agent ready again',
      async () => {
        const r = await httpGet(`http://127.0.0.1:${String(port)}/readyz`, { timeoutMs: 2000 }).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      },
      { timeoutMs: 90_000 },
    );
    await sleep(5000);
    const seen = a.lines.slice(from).filter(shown);
    const text = describeLines(seen);
    // Something was said at warn about the outage, and something at info about the recovery.
    expect(seen.filter((l) => l.level === 'warn').length, text).toBeGreaterThan(0);
    // At most one line per component per kind of message: no line repeats within the outage.
    const messages = seen.map((l) => `${typeof l.component === 'string' ? l.component : ''} ${String(l.msg)}`);
    expect(messages.length - new Set(messages).size, text).toBeLessThanOrEqual(2);
    // 45 s of retries every 2 s by several components would be dozens of lines.
    expect(seen.length, text).toBeLessThanOrEqual(16);
  }, 240_000);
});
