// npm run bench:failover [-- --rounds N]
// Leader handovers between three real agent processes against the real child apiserver (and the
// parent with the test approver, so every new leader registers). N rounds each (default 20) of:
//   SIGTERM of the leader (it stops, releases the Lease, exits 0), and
//   kill -9 of the leader (the Lease expires after 15 s),
// with a fresh replica started (and standing by) after each, so three always campaign. Takeover = signal → another
// process enters `leading` (from its transition log). Prints each round, the median and max per mode,
// and every overlap of work intervals between processes (there must be none).

import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { eventually } from '../env/eventually.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';
import { AgentProcess } from '../integration/helpers/agent-process.ts';
import { ledAt, overlaps, workIntervals, type WorkInterval } from '../integration/helpers/work-intervals.ts';
import { median } from './stats.ts';

const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg === -1 ? 20 : Number(process.argv[roundsArg + 1]);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
  process.stderr.write('--rounds takes a whole number from 1 to 100\n');
  process.exit(2);
}

interface Replica {
  readonly name: string;
  readonly proc: AgentProcess;
  endedAt?: number;
}

const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
const replicas: Replica[] = [];
try {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  const approver = new TestApprover(env.adminKubeConfig('parent'));
  approver.start();
  const ns = `bench-le-${randomBytes(3).toString('hex')}`;
  await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  const startReplica = (): Replica => {
    const r = {
      name: `agent-${String(replicas.length + 1)}`,
      proc: AgentProcess.start([
        `--cluster-reg-parent-url=${env.server('parent')}`,
        `--cluster-reg-token=${token.token}`,
        `--kubeconfig=${env.adminKubeconfigPath('child')}`,
        `--leader-elect-resource-namespace=${ns}`,
        '--secure-port=0',
      ]),
    };
    replicas.push(r);
    return r;
  };
  for (let i = 0; i < 3; i++) startReplica();
  await Promise.all(replicas.map((r) => r.proc.waitForLine('the replica to campaign', (l) => l.msg === 'campaigning')));

  const alive = (): Replica[] => replicas.filter((r) => r.endedAt === undefined);
  /** The live replica that entered `leading` at or after `after` and is serving. */
  const servingLeader = (after: number, timeoutMs: number): Promise<Replica> =>
    eventually(
      'a serving leader',
      () =>
        Promise.resolve(
          alive().find(
            (r) =>
              ledAt(r.proc.lines, after) !== undefined &&
              r.proc.states('agent').at(-1)?.startsWith('leading.serving') === true,
          ),
        ),
      { timeoutMs, intervalMs: 10 },
    );

  const results: Record<'SIGTERM' | 'SIGKILL', { takeover: number; serving: number }[]> = { SIGTERM: [], SIGKILL: [] };
  let leader = await servingLeader(0, 60_000);
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    for (let i = 1; i <= rounds; i++) {
      const at = Date.now();
      leader.proc.kill(signal);
      if (signal === 'SIGKILL') leader.endedAt = at;
      const old = leader;
      const next = await servingLeader(at, 40_000);
      const led = ledAt(next.proc.lines, at) ?? 0;
      const row = { takeover: led - at, serving: Date.now() - at };
      results[signal].push(row);
      const exit = await old.proc.exited;
      old.endedAt ??= Date.now();
      process.stdout.write(
        `${signal} round ${String(i)}: takeover ${String(row.takeover)} ms (serving after ${String(row.serving)} ms); old leader exit ${String(exit.code ?? exit.signal)}\n`,
      );
      // The replacement must be up and standing by before the next round: a process still starting
      // (about a second of CPU) would slow the handover it is not part of.
      const fresh = startReplica();
      await fresh.proc.waitForLine(
        'the new replica to stand by',
        // Its first step of the election (the later ones of the loop are routine: logged at debug).
        (l) => l.transition?.machine === 'leadership' && l.transition.to.startsWith('following'),
      );
      leader = next;
    }
  }
  await approver.stop();

  const now = Date.now();
  const byProcess = new Map<string, WorkInterval[]>(
    replicas.map((r) => [r.name, workIntervals(r.proc.lines, r.endedAt ?? now)]),
  );
  const found = overlaps(byProcess);
  process.stdout.write('\n');
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const t = results[signal].map((r) => r.takeover);
    const s = results[signal].map((r) => r.serving);
    process.stdout.write(
      `${signal === 'SIGTERM' ? 'SIGTERM (release)' : 'kill -9 (expiry)'}: ${String(t.length)} handovers, takeover median ${median(t).toFixed(0)} ms, max ${String(Math.max(...t))} ms; serving again median ${median(s).toFixed(0)} ms, max ${String(Math.max(...s))} ms\n`,
    );
  }
  const intervals = [...byProcess.values()].reduce((n, xs) => n + xs.length, 0);
  process.stdout.write(
    `work intervals checked: ${String(intervals)} across ${String(replicas.length)} processes; overlaps: ${found.length === 0 ? 'none' : JSON.stringify(found)}\n`,
  );
  if (found.length > 0) process.exitCode = 1;
} finally {
  await Promise.all(replicas.map((r) => r.proc.stop()));
  await sup.stop();
}
