// `--statechart-inspector`: streams the statecharts to a Stately inspector relay. The inspector is a
// development tool, an optional dependency that the image leaves out, so it is loaded on demand, only
// when the flag is given. Events from before the module has loaded are held (up to a bound) and sent
// in order; when the module is missing, one warn line says so and the agent runs without it.

import type WebSocket from 'isomorphic-ws';
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../logging/logger.ts';
import { redactUrls } from '../logging/redact-url.ts';

/** What the agent uses of `@statelyai/inspect`. */
export interface InspectorModule {
  readonly createWebSocketInspector: (opts: { url: string }) => {
    readonly inspect: { readonly next?: (ev: InspectionEvent) => void };
  };
}

/** Events held while the module loads; older ones are dropped past this (start-up emits a few hundred). */
export const heldEventsLimit = 10_000;

const loadStately = (): Promise<InspectorModule> => import('@statelyai/inspect');

/**
 * Tries the inspector's URL once: the module's own socket retries every 5 s without a word, so an
 * unreachable URL gets exactly one warn line here (the agent runs on; the module goes on retrying).
 */
async function probe(url: string, log: Logger): Promise<void> {
  // Imported here, as the inspector is: a run without the flag does not load the socket library for it.
  const { default: Socket } = await import('isomorphic-ws');
  let ws: WebSocket;
  try {
    ws = new Socket(url);
  } catch (err) {
    log.warn(
      { url: redactUrls(url), err: err instanceof Error ? err.message : String(err) },
      'the statechart inspector URL is unusable',
    );
    return;
  }
  ws.onopen = () => {
    ws.close();
  };
  ws.onerror = (e) => {
    log.warn(
      { url: redactUrls(url), err: e.message },
      'the statechart inspector is unreachable: its events wait until it can be reached',
    );
    ws.close();
  };
}

/**
 * An inspection callback that forwards to a WebSocket inspector at `url` once `load` resolves, or
 * drops everything (after one warn line) when it rejects.
 */
export function statechartInspector(
  url: string,
  log: Logger,
  load: () => Promise<InspectorModule> = loadStately,
): (ev: InspectionEvent) => void {
  let held: InspectionEvent[] | undefined = [];
  let forward: ((ev: InspectionEvent) => void) | undefined;
  load().then(
    (mod) => {
      void probe(url, log);
      const observer = mod.createWebSocketInspector({ url }).inspect;
      forward = (ev) => observer.next?.(ev);
      for (const ev of held ?? []) forward(ev);
      held = undefined;
      log.info({ url }, 'streaming statecharts to the Stately inspector');
    },
    (err: unknown) => {
      held = undefined;
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        '--statechart-inspector is ignored: the optional dependency @statelyai/inspect is not installed',
      );
    },
  );
  return (ev) => {
    if (forward !== undefined) forward(ev);
    else if (held !== undefined) {
      held.push(ev);
      if (held.length > heldEventsLimit) held.shift();
    }
  };
}
