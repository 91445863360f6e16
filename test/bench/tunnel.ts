// npm run bench:tunnel [-- --runs N] [--version v0.3.0]
// Our tunnel against the plain Go remotedialer client, through the same Go remotedialer server in the
// same run: requests/s and p50/p99 latency of small GETs (concurrency 32), and MB/s of large transfers.
// The load is generated inside the Go server (its /bench endpoint dials through each client's tunnel),
// so both clients face the same load generator. Runs alternate which client goes first. Prints each run,
// the medians and the ratios (ours / Go). Goal: throughput ≥ 1.0×, p99 ≤ Go's.

import { randomBytes } from 'node:crypto';
import { createActor } from 'xstate';
import { pino } from 'pino';
import { createSocketMachine } from '../../src/tunnel/actors.ts';
import { eventually } from '../env/eventually.ts';
import { GoTunnelServer, remotedialerVersions } from '../peers/remotedialer/peer.ts';
import { median } from './stats.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const runs = Number(arg('--runs') ?? 5);
const version = arg('--version') ?? remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  process.stderr.write('--runs takes a whole number from 1 to 50\n');
  process.exit(2);
}

interface BenchResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  bytes: number;
  mbps: number;
}

const token = randomBytes(12).toString('hex');
const server = await GoTunnelServer.start({ version, token });
const goClient = server.startGoClient('go');
const ours = createActor(
  createSocketMachine({
    log: pino({ level: 'warn' }),
    allowedTargets: [server.origin],
    loadCredentials: () => Promise.resolve({ token, caPem: server.caPem }),
  }),
  { input: { parentUrl: server.url, clusterId: 'ts', childServer: 'https://127.0.0.1:1' } },
);

async function bench(key: string, path: string, n: number, c: number): Promise<BenchResult> {
  const target = encodeURIComponent(`http://${server.origin}${path}`);
  const res = await server.call(`${server.url}/bench/${key}?url=${target}&n=${String(n)}&c=${String(c)}`, {
    timeoutMs: 300_000,
  });
  if (res.status !== 200) throw new Error(`bench ${key} ${path}: HTTP ${String(res.status)} ${res.body.toString()}`);
  const r = JSON.parse(res.body.toString()) as BenchResult;
  if (r.errors > 0) throw new Error(`bench ${key} ${path}: ${String(r.errors)} failed requests`);
  return r;
}

const fmt = (x: number, d = 1): string => x.toFixed(d);
try {
  await goClient.start();
  ours.start();
  await eventually('both tunnels are up', async () =>
    (await server.hasSession('ts')) && (await server.hasSession('go')) ? true : undefined,
  );
  const small = { path: '/small', n: 4000, c: 32 };
  const large = { path: `/bytes?n=${String(64 * 1024 * 1024)}`, n: 6, c: 2 };
  // Warm-up (connection pools, JIT).
  for (const key of ['ts', 'go']) {
    await bench(key, small.path, 500, small.c);
    await bench(key, large.path, 1, 1);
  }
  const results: Record<'ts' | 'go', { small: BenchResult[]; large: BenchResult[] }> = {
    ts: { small: [], large: [] },
    go: { small: [], large: [] },
  };
  process.stdout.write(
    `remotedialer ${version} server; ${String(runs)} runs; small GET: ${String(small.n)} requests at concurrency ${String(small.c)}; large: ${String(large.n)} × 64 MiB at concurrency ${String(large.c)}\n`,
  );
  for (let i = 0; i < runs; i++) {
    const order: ('ts' | 'go')[] = i % 2 === 0 ? ['ts', 'go'] : ['go', 'ts'];
    for (const key of order) {
      const s = await bench(key, small.path, small.n, small.c);
      const l = await bench(key, large.path, large.n, large.c);
      results[key].small.push(s);
      results[key].large.push(l);
      process.stdout.write(
        `run ${String(i + 1)} ${key === 'ts' ? 'ours' : 'go  '}: ${fmt(s.rps, 0)} req/s  p50 ${fmt(s.p50Ms, 2)} ms  p99 ${fmt(s.p99Ms, 2)} ms  |  ${fmt(l.mbps)} MB/s\n`,
      );
    }
  }
  const med = (key: 'ts' | 'go', pick: (r: BenchResult) => number, kind: 'small' | 'large'): number =>
    median(results[key][kind].map(pick));
  const row = (label: string, pick: (r: BenchResult) => number, kind: 'small' | 'large', d: number): string => {
    const t = med('ts', pick, kind);
    const g = med('go', pick, kind);
    return `${label.padEnd(18)} ours ${fmt(t, d).padStart(9)}   go ${fmt(g, d).padStart(9)}   ours/go ${fmt(t / g, 2)}×\n`;
  };
  process.stdout.write('medians:\n');
  process.stdout.write(row('small GET req/s', (r) => r.rps, 'small', 0));
  process.stdout.write(row('small GET p50 ms', (r) => r.p50Ms, 'small', 2));
  process.stdout.write(row('small GET p99 ms', (r) => r.p99Ms, 'small', 2));
  process.stdout.write(row('large MB/s', (r) => r.mbps, 'large', 1));
} finally {
  ours.stop();
  await goClient.stop();
  await server.stop();
}
