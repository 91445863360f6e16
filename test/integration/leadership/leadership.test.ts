// Leader election with three real agent processes against the real child apiserver (and the parent
// with the test approver, so the leader registers and serves). Each test has its own system namespace,
// so its own Lease. Work intervals come from the processes' transition logs and must never overlap.

import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../env/eventually.ts';
import { freePorts, httpGet } from '../../env/net.ts';
import { testEnv } from '../../env/vitest-env.ts';
import type { AgentProcess } from '../helpers/agent-process.ts';
import { registrationParent } from '../helpers/parent.ts';
import { ledAt, overlaps, workIntervals, type WorkInterval } from '../helpers/work-intervals.ts';

const env = testEnv();
const parent = registrationParent(env);

afterEach(async () => {
  await env.component('child', 'kube-apiserver').resume();
});

interface Replica {
  readonly proc: AgentProcess;
  readonly port: number;
  /** Set when the test kills it: its work (if any) ended then. */
  killedAt?: number;
}

async function trio(): Promise<{ ns: string; replicas: Replica[] }> {
  const ns = await parent.systemNamespace('cnet-le');
  const ports = await freePorts(3);
  const replicas = ports.map((port) => {
    const proc = parent.agent([
      `--leader-elect-resource-namespace=${ns}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${String(port)}`,
    ]);
    return { proc, port };
  });
  return { ns, replicas };
}

const leaders = (rs: readonly Replica[], after = 0): Replica[] =>
  rs.filter((r) => r.killedAt === undefined && ledAt(r.proc.lines, after) !== undefined);

async function oneLeader(rs: readonly Replica[], after = 0, timeoutMs = 60_000): Promise<Replica> {
  return eventually(
    'a leader',
    () => {
      const ls = leaders(rs, after);
      return Promise.resolve(ls.length > 0 ? ls[0] : undefined);
    },
    { timeoutMs, intervalMs: 20 },
  );
}

function expectNoOverlap(rs: readonly Replica[]): void {
  const now = Date.now();
  const byProcess = new Map<string, WorkInterval[]>(
    rs.map((r, i) => [String(i), workIntervals(r.proc.lines, r.killedAt ?? now)]),
  );
  expect(overlaps(byProcess)).toEqual([]);
}

const identityOf = (r: Replica): unknown => r.proc.lines.find((l) => l.msg === 'campaigning')?.identity;

async function lease(ns: string) {
  return env.adminClient('child', CoordinationV1Api).readNamespacedLease({ name: 'clusternet-agent', namespace: ns });
}

describe('leader election', () => {
  it('elects exactly one leader, which registers; standbys wait and report not ready', async () => {
    const { ns, replicas } = await trio();
    const leader = await oneLeader(replicas);
    await leader.proc.waitForState('leading.serving.working', 60_000, 'agent');
    await sleep(5000);
    expect(leaders(replicas)).toEqual([leader]);
    const l = await lease(ns);
    expect(l.spec?.holderIdentity).toBe(identityOf(leader));
    expect(l.spec?.leaseDurationSeconds).toBe(15);
    expect(String(l.spec?.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    for (const r of replicas) {
      const url = `https://127.0.0.1:${String(r.port)}`;
      expect((await httpGet(`${url}/healthz`)).status).toBe(200);
      expect((await httpGet(`${url}/livez`)).status).toBe(200);
      const ready = await httpGet(`${url}/readyz`);
      const metrics = (await httpGet(`${url}/metrics`)).body;
      if (r === leader) {
        expect(ready.status).toBe(200);
        expect(metrics).toMatch(/^clusternet_agent_leader 1$/m);
        expect(metrics).toMatch(/^clusternet_agent_registration_results_total\{result="registered"\} 1$/m);
        expect(metrics).toMatch(
          /^clusternet_agent_machine_state\{machine="agent",state="leading.serving.working"\} 1$/m,
        );
      } else {
        expect(ready.status).toBe(503);
        expect(ready.body).toMatch(/not registered/);
        expect(metrics).toMatch(/^clusternet_agent_leader 0$/m);
        expect(r.proc.states('registration')).toEqual([]);
      }
    }
    expectNoOverlap(replicas);
  });

  it('kill -9 of the leader: another leads within lease duration + retry period', async () => {
    const { ns, replicas } = await trio();
    const first = await oneLeader(replicas);
    await first.proc.waitForState('leading.serving.working', 60_000, 'agent');
    const transitions = (await lease(ns)).spec?.leaseTransitions ?? 0;
    first.killedAt = Date.now();
    first.proc.kill('SIGKILL');
    const next = await oneLeader(replicas, first.killedAt, 30_000);
    const takeover = (ledAt(next.proc.lines, first.killedAt) ?? 0) - first.killedAt;
    expect(takeover).toBeLessThanOrEqual(15_000 + 2000);
    await next.proc.waitForState('leading.serving.working', 30_000, 'agent');
    const l = await lease(ns);
    expect(l.spec?.holderIdentity).toBe(identityOf(next));
    expect(l.spec?.leaseTransitions).toBe(transitions + 1);
    expectNoOverlap(replicas);
  });

  it('SIGTERM of the leader: it stops, releases the Lease and exits 0; another leads within ~2 s', async () => {
    const { ns, replicas } = await trio();
    const first = await oneLeader(replicas);
    await first.proc.waitForState('leading.serving.working', 60_000, 'agent');
    const signalledAt = Date.now();
    first.proc.kill('SIGTERM');
    expect((await first.proc.exited).code).toBe(0);
    first.killedAt = Date.now();
    expect(first.proc.states('agent').slice(-2)).toEqual(['stopping', 'stopped']);
    expect(first.proc.lines.some((l) => l.msg === 'released the Lease')).toBe(true);
    const next = await oneLeader(replicas, signalledAt, 10_000);
    const takeover = (ledAt(next.proc.lines, signalledAt) ?? 0) - signalledAt;
    expect(takeover).toBeLessThanOrEqual(2000);
    await next.proc.waitForState('leading.serving.working', 30_000, 'agent');
    expect((await lease(ns)).spec?.holderIdentity).toBe(identityOf(next));
    expectNoOverlap(replicas);
  });

  it('child apiserver paused past the renew deadline: the leader stops working before anyone else can lead', async () => {
    const { replicas } = await trio();
    const first = await oneLeader(replicas);
    await first.proc.waitForState('leading.serving.working', 60_000, 'agent');
    const apiserver = env.component('child', 'kube-apiserver');
    await sleep(1000);
    const pausedAt = Date.now();
    await apiserver.pause();
    // The leader renewed at most a retry period (2 s) before the pause: it must stop by then + 10 s.
    const stopped = await first.proc.waitForLine(
      'the leader to stand by',
      (l) =>
        l.transition?.machine === 'agent' && l.transition.to === 'standby' && Date.parse(String(l.time)) > pausedAt,
      20_000,
    );
    const stoppedAt = Date.parse(String(stopped.time));
    expect(stoppedAt - pausedAt).toBeLessThanOrEqual(10_000 + 500);
    expect(leaders(replicas, pausedAt)).toEqual([]);
    await sleep(Math.max(0, pausedAt + 13_000 - Date.now()));
    await apiserver.resume();
    const next = await oneLeader(replicas, stoppedAt, 40_000);
    expect(ledAt(next.proc.lines, stoppedAt)).toBeGreaterThan(stoppedAt);
    await next.proc.waitForState('leading.serving.working', 30_000, 'agent');
    expectNoOverlap(replicas);
  });
});
