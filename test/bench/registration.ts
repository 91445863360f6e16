// npm run bench:registration [-- --runs N] [--dist] [--main "<main.js> [node flags]" ...]
// --dist runs the compiled bundle (npm run build first), as the container image does; each --main runs
// that entry point instead (another build, or the same with other node flags), the runs alternating
// between them, and prints each one's medians and their ratios to the first one's.
// Time from agent start to credentials stored, against the real parent and child, minus the test
// approver's own latency (from first seeing the request to writing its decision). Prints each run and
// the medians. The goal: under 1 s of agent overhead.

import { median } from './stats.ts';
import { entryPoint, requireBuilt, type EntryPoint } from './entry-point.ts';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { bootstrapGroup, prepareParent, TestApprover } from '../approver/approver.ts';
import { startSupervisor } from '../env/supervisor.ts';
import { TestEnv } from '../env/test-env.ts';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg === -1 ? 7 : Number(process.argv[runsArg + 1]);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  process.stderr.write('--runs takes a whole number from 1 to 50\n');
  process.exit(2);
}

const given = process.argv.flatMap((a, i) => (process.argv[i - 1] === '--main' ? [entryPoint(a)] : []));
/** Without --main: the sources, or with --dist the compiled bundle (a path taken whole, spaces and all). */
const defaultMain = fileURLToPath(
  new URL(process.argv.includes('--dist') ? '../../dist/src/main.js' : '../../src/main.ts', import.meta.url),
);
const entries: EntryPoint[] = given.length > 0 ? given : [{ label: defaultMain, main: defaultMain, nodeFlags: [] }];
requireBuilt(entries, 'run `npm run build` first (--dist runs the compiled agent)');
const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
for (const [i, e] of entries.entries())
  process.stdout.write(`agent entry point ${String(i + 1)}: ${[...e.nodeFlags, e.main].join(' ')}\n`);
interface Row {
  readonly total: number;
  readonly firstTransition: number;
  readonly approver: number;
  readonly overhead: number;
}
try {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  const approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 20 });
  approver.start();
  const once = async ({ main, nodeFlags }: EntryPoint): Promise<Row> => {
    const ns = `bench-${randomBytes(3).toString('hex')}`;
    await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    const t0 = performance.now();
    const child = spawn(process.execPath, [
      ...nodeFlags,
      main,
      `--cluster-reg-parent-url=${env.server('parent')}`,
      `--cluster-reg-token=${token.token}`,
      `--kubeconfig=${env.adminKubeconfigPath('child')}`,
      `--leader-elect-resource-namespace=${ns}`,
      '--logging-format=json',
    ]);
    let firstTransition = 0;
    const stored = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (firstTransition === 0 && buf.includes('"transition"')) firstTransition = performance.now() - t0;
        if (buf.includes('stored the parent credentials')) resolve(performance.now());
      });
      child.on('exit', (code) => {
        reject(new Error(`agent exited with ${String(code)}:\n${buf.slice(-2000)}`));
      });
      setTimeout(() => {
        reject(new Error(`no credentials after 60 s:\n${buf.slice(-2000)}`));
      }, 60_000).unref();
    });
    child.kill('SIGKILL');
    const approval = approver.records.at(-1);
    const approverMs = approval === undefined ? 0 : approval.decidedAt - approval.seenAt;
    const total = stored - t0;
    return { total, firstTransition, approver: approverMs, overhead: total - approverMs };
  };
  const rows = entries.map((): Row[] => []);
  for (let i = 0; i < runs + 1; i++) {
    for (const [m, entry] of entries.entries()) {
      const row = await once(entry);
      const which = entries.length > 1 ? ` (entry point ${String(m + 1)})` : '';
      if (i === 0) {
        process.stdout.write(`warm-up${which}: ${row.total.toFixed(0)} ms (not counted)\n`);
        continue;
      }
      rows[m]?.push(row);
      process.stdout.write(
        `run ${String(i)}${which}: credentials stored ${row.total.toFixed(0)} ms after start; process start to first transition ${row.firstTransition.toFixed(0)} ms; approver ${row.approver.toFixed(0)} ms; agent overhead ${row.overhead.toFixed(0)} ms\n`,
      );
    }
  }
  await approver.stop();
  const med = (rs: readonly Row[], k: keyof Row): number => median(rs.map((r) => r[k]));
  for (const [m, rs] of rows.entries()) {
    const m0 = (k: keyof Row): string => med(rs, k).toFixed(0);
    const which = entries.length > 1 ? ` (entry point ${String(m + 1)})` : '';
    const ratio =
      m === 0
        ? ''
        : `; ratio to entry point 1: first transition ${(med(rs, 'firstTransition') / med(rows[0] ?? [], 'firstTransition')).toFixed(2)}, overhead ${(med(rs, 'overhead') / med(rows[0] ?? [], 'overhead')).toFixed(2)}`;
    process.stdout.write(
      `\nmedian over ${String(runs)} runs${which}: total ${m0('total')} ms, node start-up to first transition ${m0('firstTransition')} ms, approver ${m0('approver')} ms, agent overhead ${m0('overhead')} ms (goal < 1000 ms; max ${Math.max(...rs.map((r) => r.overhead)).toFixed(0)} ms)${ratio}\n`,
    );
  }
} finally {
  await sup.stop();
}
