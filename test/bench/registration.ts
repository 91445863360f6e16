// npm run bench:registration [-- --runs N] [--dist]
// --dist runs the compiled bundle (npm run build first), as the container image does.
// Time from agent start to credentials stored, against the real parent and child, minus the test
// approver's own latency (from first seeing the request to writing its decision). Prints each run and
// the medians. The goal: under 1 s of agent overhead.

import { median } from './stats.ts';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
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

const main = fileURLToPath(
  new URL(process.argv.includes('--dist') ? '../../dist/src/main.js' : '../../src/main.ts', import.meta.url),
);
if (!existsSync(main)) {
  process.stderr.write(`${main} does not exist: run \`npm run build\` first (--dist runs the compiled agent)\n`);
  process.exit(2);
}
const sup = await startSupervisor();
const env = new TestEnv(sup.descriptor);
process.stdout.write(`agent entry point: ${main}\n`);
try {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  const approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 20 });
  approver.start();
  const rows: { total: number; firstTransition: number; approver: number; overhead: number }[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const ns = `bench-${randomBytes(3).toString('hex')}`;
    await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    const t0 = performance.now();
    const child = spawn(process.execPath, [
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
    const row = { total, firstTransition, approver: approverMs, overhead: total - approverMs };
    if (i === 0) {
      process.stdout.write(`warm-up: ${total.toFixed(0)} ms (not counted)\n`);
      continue;
    }
    rows.push(row);
    process.stdout.write(
      `run ${String(i)}: credentials stored ${total.toFixed(0)} ms after start; process start to first transition ${firstTransition.toFixed(0)} ms; approver ${approverMs.toFixed(0)} ms; agent overhead ${row.overhead.toFixed(0)} ms\n`,
    );
  }
  await approver.stop();
  const m = (k: keyof (typeof rows)[number]): string => median(rows.map((r) => r[k])).toFixed(0);
  process.stdout.write(
    `\nmedian over ${String(runs)} runs: total ${m('total')} ms, node start-up to first transition ${m('firstTransition')} ms, approver ${m('approver')} ms, agent overhead ${m('overhead')} ms (goal < 1000 ms; max ${Math.max(...rows.map((r) => r.overhead)).toFixed(0)} ms)\n`,
  );
} finally {
  await sup.stop();
}
