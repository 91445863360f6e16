// npm run bench:tunnel [-- --runs N] [--requests N] [--version v0.3.0]
// Our tunnel against the plain Go remotedialer client, through the same Go remotedialer server in the
// same run: requests/s and p50/p99 latency of small GETs (concurrency 32), and MB/s of large transfers.
// The load is generated inside the Go server (its /bench endpoint dials through each client's tunnel),
// so both clients face the same load generator. The small GETs and the large transfers are measured in
// separate rounds (a 64 MiB transfer leaves garbage behind in either process that would otherwise be
// collected during the next latency run), and runs alternate which client goes first. Each latency run
// takes 20 000 requests by default, so its p99 rests on 200 samples. Prints each run, the medians with
// their spread, and the ratios (ours / Go). Goal: throughput ≥ 1.0×, p99 ≤ Go's.

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
const requests = Number(arg('--requests') ?? 20_000);
const version = arg('--version') ?? remotedialerVersions.remotedialer[0] ?? 'v0.3.0';
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  process.stderr.write('--runs takes a whole number from 1 to 50\n');
  process.exit(2);
}
if (!Number.isInteger(requests) || requests < 100 || requests > 1_000_000) {
  process.stderr.write('--requests takes a whole number from 100 to 1000000\n');
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
type Client = 'ts' | 'go';
try {
  await goClient.start();
  ours.start();
  await eventually('both tunnels are up', async () =>
    (await server.hasSession('ts')) && (await server.hasSession('go')) ? true : undefined,
  );
  const small = { path: '/small', n: requests, c: 32 };
  const large = { path: `/bytes?n=${String(64 * 1024 * 1024)}`, n: 6, c: 2 };
  // Warm-up (connection pools, JIT).
  for (const key of ['ts', 'go']) {
    await bench(key, small.path, 2000, small.c);
    await bench(key, large.path, 1, 1);
  }
  const results: Record<Client, { small: BenchResult[]; large: BenchResult[] }> = {
    ts: { small: [], large: [] },
    go: { small: [], large: [] },
  };
  process.stdout.write(
    `remotedialer ${version} server; ${String(runs)} runs; small GET: ${String(small.n)} requests at concurrency ${String(small.c)}; large: ${String(large.n)} × 64 MiB at concurrency ${String(large.c)}\n`,
  );
  const orderOf = (i: number): Client[] => (i % 2 === 0 ? ['ts', 'go'] : ['go', 'ts']);
  const name = (key: Client): string => (key === 'ts' ? 'ours' : 'go  ');
  for (let i = 0; i < runs; i++) {
    for (const key of orderOf(i)) {
      const r = await bench(key, small.path, small.n, small.c);
      results[key].small.push(r);
      process.stdout.write(
        `small run ${String(i + 1)} ${name(key)}: ${fmt(r.rps, 0)} req/s  p50 ${fmt(r.p50Ms, 2)} ms  p99 ${fmt(r.p99Ms, 2)} ms\n`,
      );
    }
  }
  for (let i = 0; i < runs; i++) {
    for (const key of orderOf(i)) {
      const r = await bench(key, large.path, large.n, large.c);
      results[key].large.push(r);
      process.stdout.write(`large run ${String(i + 1)} ${name(key)}: ${fmt(r.mbps)} MB/s\n`);
    }
  }
  const row = (label: string, pick: (r: BenchResult) => number, kind: 'small' | 'large', d: number): string => {
    const [t, g] = (['ts', 'go'] as const).map((key) => results[key][kind].map(pick));
    const spread = (xs: number[]): string => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`;
    const mt = median(t ?? []);
    const mg = median(g ?? []);
    return `${label.padEnd(18)} ours ${fmt(mt, d).padStart(9)} (${spread(t ?? [])})   go ${fmt(mg, d).padStart(9)} (${spread(g ?? [])})   ours/go ${fmt(mt / mg, 2)}×\n`;
  };
  process.stdout.write('medians (min–max):\n');
  process.stdout.write(row('small GET req/s', (r) => r.rps, 'small', 0));
  process.stdout.write(row('small GET p50 ms', (r) => r.p50Ms, 'small', 2));
  process.stdout.write(row('small GET p99 ms', (r) => r.p99Ms, 'small', 2));
  process.stdout.write(row('large MB/s', (r) => r.mbps, 'large', 1));
} finally {
  ours.stop();
  await goClient.stop();
  await server.stop();
}
