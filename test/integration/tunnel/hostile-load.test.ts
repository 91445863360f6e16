// A hostile parent under load (issue 13 #7, #10): the tunnel's memory stays bounded whatever the
// parent sends and comes back once the streams end; every refused Connect of a burst is answered while
// the parent reads. The parent is test/peers/hostile-parent.ts (raw websocket frames, as fast as the
// agent reads them); for memory, the agent's tunnel runs alone in a process of its own
// (test/peers/tunnel-agent.ts) so that its RSS is its own, with the runtime settings the image gives the
// agent (docker/Dockerfile's NODE_OPTIONS, V8 flags and malloc arenas): the bound is the shipped agent's.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType } from '../../../src/tunnel/frame-codec.ts';
import { defaultRelayLimits } from '../../../src/tunnel/stream-relay.ts';
import { eventually } from '../../env/eventually.ts';
import { connectBurst, flood, HostileParent } from '../../peers/hostile-parent.ts';
import type { AgentSample } from '../../peers/tunnel-agent.ts';
import { startTunnelAgent } from '../../peers/tunnel-agent-process.ts';
import { runTunnel } from './harness.ts';

const MiB = 1024 * 1024;
/** Issue 13 #7: the agent stays at or under this whatever the parent does. */
const rssBound = 300 * MiB;

let parent: HostileParent;
let dir: string;

beforeAll(async () => {
  parent = await HostileParent.start();
  dir = await mkdtemp(join(tmpdir(), 'hostile-load-'));
}, 60_000);

afterAll(async () => {
  await parent.close();
  await rm(dir, { recursive: true, force: true });
});

const mib = (n: number): string => `${(n / MiB).toFixed(0)} MiB`;

describe('a parent that claims Pause support and ignores it (issue 13 #7)', () => {
  it('64 streams flooding a target that does not read: RSS stays under 300 MiB, and memory comes back once they end', async () => {
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, parent.caPem);
    const agent = startTunnelAgent(parent.url, caFile, parent.token, 'image');
    const streams = 64;
    const sent = { bytes: 0 };
    let peak: AgentSample | undefined;
    try {
      parent.next(flood(parent, { streams, frameBytes: 64 * 1024, maxDurationMs: 150_000 }, sent));
      const base = await eventually('the agent streams are open', () =>
        Promise.resolve(agent.last()?.streams === streams ? agent.last() : undefined),
      );
      const session = parent.sessions[parent.sessions.length - 1];
      // Until the agent has ended every stream; a process past the bound has failed already.
      await eventually(
        'the agent ended every stream, or passed the bound',
        () => {
          const s = agent.last();
          if (s !== undefined && (peak === undefined || s.rss > peak.rss)) peak = s;
          return Promise.resolve((session?.errors.size ?? 0) >= streams || (peak?.rss ?? 0) > rssBound || undefined);
        },
        { timeoutMs: 170_000, intervalMs: 50 },
      );
      const maxOf = (k: keyof AgentSample): number => Math.max(...agent.samples.map((s) => s[k]));
      const figures = `sent ${mib(sent.bytes)}; RSS ${mib(base.rss)} → peak ${mib(maxOf('rss'))}; accounted peak ${mib(maxOf('inboundBytes'))}`;
      expect(maxOf('rss'), figures).toBeLessThanOrEqual(rssBound);
      expect(maxOf('inboundBytes'), figures).toBeLessThanOrEqual(defaultRelayLimits.sessionBufferLimitBytes);
      // The agent ended each stream itself (its Error, not the parent's EOF), as too much was sent.
      for (let c = 1; c <= streams; c++) {
        expect(session?.errors.get(c)?.[0], `stream ${String(c)}`).toBe(
          'tunnel: too much data buffered for the stream',
        );
      }
      expect(session?.types.get(MessageType.Pause)).toBe(streams);

      // Memory comes back: nothing accounted, no stream left, and after a collection the live
      // ArrayBuffers are back where they were; the process does not grow.
      const after = await eventually(
        'the streams released',
        () => {
          const s = agent.last();
          return Promise.resolve(s?.inboundBytes === 0 && s.streams === 0 && s.closing === 0 ? s : undefined);
        },
        { timeoutMs: 30_000 },
      );
      // ArrayBuffers are freed by the collector (and swept after it): asked again until they are back.
      const collected = await eventually(
        'live memory back',
        () => {
          agent.collect();
          const s = agent.last();
          return Promise.resolve(
            s !== undefined && s.at > after.at && s.arrayBuffers <= base.arrayBuffers + 8 * MiB ? s : undefined,
          );
        },
        { timeoutMs: 20_000, intervalMs: 1000 },
      );
      expect(collected.rss).toBeLessThanOrEqual(rssBound);
      expect(agent.last()?.sessions).toBe(1);
    } finally {
      await agent.stop();
    }
  }, 240_000);
});

describe('a burst of Connects (issue 13 #10)', () => {
  it('every one of 11,000 Connects is answered while the parent reads: 4,096 streams, 6,904 Errors', async () => {
    const count = 11_000;
    parent.next(connectBurst(count, () => `tcp/${parent.target}`));
    const before = parent.sessions.length;
    const tunnel = runTunnel(
      { parentUrl: parent.url, clusterId: 'burst', childServer: 'https://127.0.0.1:1' },
      {
        allowedTargets: [parent.target],
        loadCredentials: () => Promise.resolve({ token: parent.token, caPem: parent.caPem }),
      },
    );
    try {
      await tunnel.waitOpen();
      const refused = defaultRelayLimits.maxStreams;
      const answered = (): number => {
        const log = parent.sessions[before];
        return [...(log?.errors.values() ?? [])].filter((t) => t[0] === 'too many streams').length;
      };
      await eventually(
        'every refused Connect answered',
        () => Promise.resolve(answered() >= count - refused ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 100 },
      ).catch(() => undefined);
      expect(answered()).toBe(count - refused);
      expect(tunnel.relays[0]?.stats).toMatchObject({
        opened: refused,
        refused: count - refused,
        repliesDropped: 0,
        repliesQueued: 0,
      });
      expect(tunnel.relays[0]?.stats.streams).toBe(refused);
      expect(tunnel.actor.getSnapshot().matches({ session: 'open' })).toBe(true);
      expect(tunnel.errors).toEqual([]);
    } finally {
      tunnel.stop();
      parent.closeTargets();
    }
  }, 120_000);
});
