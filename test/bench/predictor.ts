// npm run bench:predictor [-- --sizes 100,1000,5000] [--pods-per-node 30] [--runs 3] [--requests 2000]
// For each size, in a fresh Node process per run: fills the predictor's caches (src/predictor/caches.ts)
// with the benchmark's Node and Pod objects — each object JSON-parsed from its text, reduced and dropped,
// as a list page's items are — serves them with the real HTTP server on loopback, and times `--requests`
// POST /replicas/predict calls one after another over a keep-alive connection (the bodies the Go
// scheduler sends, in turn). Prints, per size, medians over the runs of: latency p50 / p99 / max, the
// process's CPU time per call p50 / p99 (what other processes' load does not inflate), the
// process RSS before the fill (the same process with empty caches: the peer) and after it (RSS keeps
// the heap the fill's garbage grew), and the live heap the caches hold after a full GC.

import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PredictorCaches } from '../../src/predictor/actors.ts';
import type { NodeObject } from '../../src/predictor/caches.ts';
import type { PodLike } from '../../src/predictor/algorithm.ts';
import { createPredictorServer } from '../../src/predictor/server.ts';
import { benchNode, benchPod, benchRequests } from './predictor-objects.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000,5000' },
    'pods-per-node': { type: 'string', default: '30' },
    runs: { type: 'string', default: '3' },
    requests: { type: 'string', default: '2000' },
    worker: { type: 'string' },
  },
});
const podsPerNode = Number(values['pods-per-node']);
const requests = Number(values.requests);

interface RunResult {
  p50: number;
  p99: number;
  max: number;
  /** CPU time of this process (server and client) per call: unaffected by other processes' load. */
  cpuP50: number;
  cpuP99: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Live heap the caches hold (after a full GC), MiB. */
  heapMiB: number;
  fillMs: number;
  answer: number;
}

const rssMiB = (): number => {
  globalThis.gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
};
const heapMiB = (): number => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

function post(agent: Agent, port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/replicas/predict',
        agent,
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          if (res.statusCode === 200) resolve(text);
          else reject(new Error(`HTTP ${String(res.statusCode)}: ${text}`));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function worker(size: number): Promise<RunResult> {
  const caches = new PredictorCaches();
  const before = rssMiB();
  const heapBefore = heapMiB();
  const started = performance.now();
  for (let i = 0; i < size; i++) caches.nodes.set(JSON.parse(JSON.stringify(benchNode(i))) as NodeObject);
  for (let i = 0; i < size * podsPerNode; i++) {
    const p = JSON.parse(JSON.stringify(benchPod(i, podsPerNode))) as PodLike & { metadata: { name: string } };
    caches.pods.set(`bench-pods/${p.metadata.name}`, p);
  }
  const fillMs = performance.now() - started;
  const heap = heapMiB() - heapBefore;
  const server = createPredictorServer((r) => caches.predict(r));
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  const cpu: number[] = [];
  let answer = 0;
  for (let i = 0; i < 100; i++) await post(agent, port, benchRequests[i % benchRequests.length] ?? '{}'); // warm-up
  for (let i = 0; i < requests; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const text = await post(agent, port, benchRequests[i % benchRequests.length] ?? '{}');
    const c1 = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c1.user + c1.system) / 1000);
    if (i === 0) answer = (JSON.parse(text) as { replicas: { default: number } }).replicas.default;
  }
  agent.destroy();
  server.close();
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const pct = (q: number, xs = times): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;
  return {
    p50: pct(0.5),
    p99: pct(0.99),
    max: times.at(-1) ?? 0,
    cpuP50: pct(0.5, cpu),
    cpuP99: pct(0.99, cpu),
    rssBeforeMiB: before,
    rssAfterMiB: rssMiB(),
    heapMiB: heap,
    fillMs,
    answer,
  };
}

function runWorker(size: number): Promise<RunResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        self,
        '--worker',
        String(size),
        '--pods-per-node',
        String(podsPerNode),
        '--requests',
        String(requests),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as RunResult);
      else reject(new Error(`worker for ${String(size)} nodes exited ${String(code)}`));
    });
  });
}

if (values.worker !== undefined) {
  process.stdout.write(JSON.stringify(await worker(Number(values.worker))));
} else {
  const sizes = values.sizes.split(',').map(Number);
  const runs = Number(values.runs);
  if (
    sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000) ||
    !(podsPerNode >= 0 && podsPerNode <= 110) ||
    !(runs >= 1 && runs <= 20) ||
    !(requests >= 10 && requests <= 100_000)
  ) {
    process.stderr.write('usage: --sizes N,N,… (1..20000) --pods-per-node 0..110 --runs 1..20 --requests 10..100000\n');
    process.exit(2);
  }
  const rows: string[] = [];
  for (const size of sizes) {
    const results: RunResult[] = [];
    for (let r = 0; r < runs; r++) {
      const res = await runWorker(size);
      results.push(res);
      process.stdout.write(
        `${String(size)} nodes, run ${String(r + 1)}: p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms, max ${res.max.toFixed(1)} ms; CPU per call p50 ${res.cpuP50.toFixed(2)} ms, p99 ${res.cpuP99.toFixed(2)} ms; RSS ${res.rssBeforeMiB.toFixed(0)} → ${res.rssAfterMiB.toFixed(0)} MiB; caches' live heap ${res.heapMiB.toFixed(1)} MiB; fill ${res.fillMs.toFixed(0)} ms; first answer ${String(res.answer)}\n`,
      );
    }
    const m = (k: keyof RunResult, d = 0): string => median(results.map((x) => x[k])).toFixed(d);
    rows.push(
      `| ${String(size)} | ${String(size * podsPerNode)} | ${m('p50', 2)} | ${m('p99', 2)} | ${m('max', 1)} | ${m('cpuP50', 2)} | ${m('cpuP99', 2)} | ${m('rssBeforeMiB')} | ${m('rssAfterMiB')} | ${m('heapMiB', 1)} |`,
    );
  }
  process.stdout.write(
    `\nload average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${String(os.availableParallelism())} cores`,
  );
  process.stdout.write(
    `\nmedians over ${String(runs)} runs, ${String(requests)} sequential predict calls each (goal: p99 ≤ 50 ms at 5000 nodes):\n`,
  );
  process.stdout.write(
    '| nodes | pods | p50 ms | p99 ms | max ms | CPU/call p50 ms | CPU/call p99 ms | RSS empty MiB | RSS filled MiB | live heap of the caches MiB |\n',
  );
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
  for (const row of rows) process.stdout.write(`${row}\n`);
}
