// bench:tunnel-flood — the tunnel's memory under the flood of issue 13 #7: a parent that sends one
// Resume (it claims Pause support), opens 64 streams to a target that never reads, and sends Data for all
// of them whatever the agent answers, until the agent has ended every stream. The agent's tunnel runs
// alone in a process of its own (test/peers/tunnel-agent.ts); the parent is test/peers/hostile-parent.ts.
// Prints, per frame size, the process's RSS before, at its peak and after the streams ended, the relay's
// accounted peak, and the live ArrayBuffers after a collection.
//
// The tunnel process runs with the image's runtime settings (docker/Dockerfile), or with Node's
// defaults given --runtime plain.
//
//   npm run bench:tunnel-flood [-- --frames 65536,1024,8388608 --runs 1 --streams 64 --runtime image|plain]

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { eventually } from '../env/eventually.ts';
import { flood, HostileParent } from '../peers/hostile-parent.ts';
import { startTunnelAgent, type TunnelAgentRuntime } from '../peers/tunnel-agent-process.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '65536,1024,8388608' },
    runs: { type: 'string', default: '1' },
    streams: { type: 'string', default: '64' },
    runtime: { type: 'string', default: 'image' },
  },
});
if (values.runtime !== 'image' && values.runtime !== 'plain') {
  process.stderr.write(`bench:tunnel-flood: --runtime ${JSON.stringify(values.runtime)}: use image or plain\n`);
  process.exit(2);
}
const runtime: TunnelAgentRuntime = values.runtime;
const frames = values.frames.split(',').map(Number);
const runs = Number(values.runs);
const streams = Number(values.streams);
const MiB = 1024 * 1024;
const mib = (n: number): string => (n / MiB).toFixed(0);

interface Result {
  readonly frame: number;
  readonly sentMiB: number;
  readonly seconds: number;
  readonly baseRss: number;
  readonly peakRss: number;
  readonly peakAccounted: number;
  readonly afterRss: number;
  readonly afterArrayBuffers: number;
}

async function once(frame: number): Promise<Result> {
  const parent = await HostileParent.start();
  const dir = await mkdtemp(join(tmpdir(), 'tunnel-flood-'));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, parent.caPem);
  const sent = { bytes: 0 };
  parent.next(flood(parent, { streams, frameBytes: frame, maxDurationMs: 300_000 }, sent));
  const agent = startTunnelAgent(parent.url, caFile, parent.token, runtime);
  const { samples, last } = agent;
  try {
    const base = await eventually('the streams open', () =>
      Promise.resolve(last()?.streams === streams ? last() : undefined),
    );
    const t0 = performance.now();
    await eventually(
      'the agent ended every stream',
      () => Promise.resolve((parent.sessions[0]?.errors.size ?? 0) >= streams || undefined),
      { timeoutMs: 310_000, intervalMs: 100 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const ended = await eventually(
      'the streams released',
      () => {
        const s = last();
        return Promise.resolve(s?.inboundBytes === 0 && s.streams === 0 && s.closing === 0 ? s : undefined);
      },
      { timeoutMs: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 5000));
    const afterRss = last()?.rss ?? 0;
    agent.collect();
    await new Promise((r) => setTimeout(r, 2000));
    const during = samples.filter((s) => s.at <= ended.at);
    return {
      frame,
      sentMiB: sent.bytes / MiB,
      seconds,
      baseRss: base.rss,
      peakRss: Math.max(...during.map((s) => s.rss)),
      peakAccounted: Math.max(...during.map((s) => s.inboundBytes)),
      afterRss,
      afterArrayBuffers: last()?.arrayBuffers ?? 0,
    };
  } finally {
    await agent.stop();
    await parent.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? 0;
};

console.log(
  `${String(streams)} streams to a target that never reads; the parent ignores Pause; ${String(runs)} run(s) each, medians; runtime: ${runtime}`,
);
console.log(
  'frame bytes | sent MiB | s to end all | RSS before | RSS peak | accounted peak | RSS 5 s after | live ArrayBuffers after GC',
);
for (const frame of frames) {
  const results: Result[] = [];
  for (let i = 0; i < runs; i++) results.push(await once(frame));
  const m = (k: keyof Result): number => median(results.map((r) => r[k]));
  console.log(
    [
      String(frame).padStart(11),
      m('sentMiB').toFixed(0).padStart(8),
      m('seconds').toFixed(0).padStart(12),
      `${mib(m('baseRss'))} MiB`.padStart(10),
      `${mib(m('peakRss'))} MiB`.padStart(8),
      `${mib(m('peakAccounted'))} MiB`.padStart(14),
      `${mib(m('afterRss'))} MiB`.padStart(13),
      `${mib(m('afterArrayBuffers'))} MiB`.padStart(26),
    ].join(' | '),
  );
}
process.exit(0);
