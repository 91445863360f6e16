import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createRootLogger } from '../../../src/logging/logger.ts';
import {
  heldEventsLimit,
  statechartInspector,
  type InspectorModule,
} from '../../../src/observability/statechart-inspector.ts';

function logSink(): { log: ReturnType<typeof createRootLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    log: createRootLogger(2, stream),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const ev = (n: number): InspectionEvent => ({ type: `@xstate.event`, n }) as unknown as InspectionEvent;
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('--statechart-inspector: the optional inspector, loaded on demand', () => {
  it('sends the events from before the module loaded, in order, then the later ones', async () => {
    const sent: InspectionEvent[] = [];
    const urls: string[] = [];
    let resolve: (m: InspectorModule) => void = () => undefined;
    const loaded = new Promise<InspectorModule>((r) => (resolve = r));
    const { log, lines } = logSink();
    const inspect = statechartInspector('ws://127.0.0.1:1/relay', log, () => loaded);
    inspect(ev(1));
    inspect(ev(2));
    expect(sent).toEqual([]);
    resolve({
      createWebSocketInspector: ({ url }) => {
        urls.push(url);
        return { inspect: { next: (e) => sent.push(e) } };
      },
    });
    await settle();
    inspect(ev(3));
    expect(sent).toEqual([ev(1), ev(2), ev(3)]);
    expect(urls).toEqual(['ws://127.0.0.1:1/relay']);
    expect(lines().map((l) => l.msg)).toEqual(['streaming statecharts to the Stately inspector']);
  });

  it('holds at most heldEventsLimit events while loading (the oldest go)', async () => {
    const sent: InspectionEvent[] = [];
    let resolve: (m: InspectorModule) => void = () => undefined;
    const { log } = logSink();
    const inspect = statechartInspector('ws://x', log, () => new Promise((r) => (resolve = r)));
    for (let i = 0; i < heldEventsLimit + 5; i++) inspect(ev(i));
    resolve({ createWebSocketInspector: () => ({ inspect: { next: (e) => sent.push(e) } }) });
    await settle();
    expect(sent.length).toBe(heldEventsLimit);
    expect(sent[0]).toEqual(ev(5));
  });

  it('warns once and drops the events when the optional dependency is not installed', async () => {
    const { log, lines } = logSink();
    const inspect = statechartInspector('ws://x', log, () =>
      Promise.reject(new Error("Cannot find package '@statelyai/inspect'")),
    );
    inspect(ev(1));
    await settle();
    inspect(ev(2));
    const logged = lines();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 'warn',
      msg: '--statechart-inspector is ignored: the optional dependency @statelyai/inspect is not installed',
    });
  });

  it('loads the real module by default', async () => {
    const { log, lines } = logSink();
    statechartInspector('ws://127.0.0.1:9/none', log);
    await new Promise((r) => setTimeout(r, 500));
    expect(lines().map((l) => l.msg)).toContain('streaming statecharts to the Stately inspector');
  });
});
