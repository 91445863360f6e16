// Start-up time and memory of the parent + child environment, over several runs.
//   npm run bench:env [-- --runs N]
// Prints, per run, the time until both clusters are fully usable (etcd, apiserver /readyz, KCM
// /healthz, default ServiceAccount) and each component's RSS; then medians and the peak.

import { median } from '../bench/stats.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { Environment } from './environment.ts';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg === -1 ? 5 : Number(process.argv[runsArg + 1]);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  process.stderr.write('--runs takes a whole number from 1 to 50\n');
  process.exit(2);
}

const startups: number[] = [];
const totals: number[] = [];
const peaks = new Map<string, number>();
for (let i = 1; i <= runs; i++) {
  const env = await Environment.start();
  await sleep(5000); // let the controllers settle before reading memory
  const status = Object.values(env.status()).flat();
  const totalMiB = status.reduce((sum, s) => sum + (s.rssKb ?? 0), 0) / 1024;
  for (const s of status) peaks.set(s.name, Math.max(peaks.get(s.name) ?? 0, (s.peakRssKb ?? 0) / 1024));
  startups.push(env.startupMs);
  totals.push(totalMiB);
  process.stdout.write(
    `run ${String(i)}: both clusters ready in ${String(env.startupMs)} ms; RSS ${totalMiB.toFixed(0)} MiB (${status
      .map((s) => `${s.name}=${((s.rssKb ?? 0) / 1024).toFixed(0)}`)
      .join(' ')})\n`,
  );
  await env.stop();
}
process.stdout.write(
  `\nmedian start-up ${median(startups).toFixed(0)} ms (min ${String(Math.min(...startups))}, max ${String(Math.max(...startups))}) over ${String(runs)} runs\n` +
    `median total RSS ${median(totals).toFixed(0)} MiB; peak RSS per component (MiB): ${[...peaks]
      .map(([n, v]) => `${n}=${v.toFixed(0)}`)
      .join(' ')}\n`,
);
