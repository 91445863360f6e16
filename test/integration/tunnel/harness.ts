// Shared by the tunnel integration tests: the real socket machine (src/tunnel/actors.ts) run against a
// parent-side tunnel server, with its transitions, emitted events and log lines recorded.

import { Writable } from 'node:stream';
import { request as httpsRequest } from 'node:https';
import { pino } from 'pino';
import { createActor, type Actor } from 'xstate';
import { eventually } from '../../env/eventually.ts';
import type { socketMachine } from '../../../machines/socket/machine.ts';
import { transitionRecorder } from '../../../src/logging/transitions.ts';
import { createSocketMachine, type SocketDeps } from '../../../src/tunnel/actors.ts';
import { tunnelReportLog } from '../../../src/tunnel/report-log.ts';
import type { TunnelFailureKind } from '../../../machines/socket/decisions.ts';
import type { StreamRelay } from '../../../src/tunnel/stream-relay.ts';

export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly [k: string]: unknown;
}

export interface RunningTunnel {
  readonly actor: Actor<typeof socketMachine>;
  readonly states: { at: number; to: string }[];
  readonly emitted: string[];
  readonly logs: LogRecord[];
  readonly relays: StreamRelay[];
  readonly errors: unknown[];
  stop(): void;
  waitOpen(timeoutMs?: number): Promise<number>;
}

export function runTunnel(
  input: { parentUrl: string; clusterId: string; childServer: string },
  deps: Omit<SocketDeps, 'log'> & {
    /** The chart's `credentials.rejected` report (to the root agent machine, which the harness has not). */
    readonly onCredentialsRejected?: (message: string) => void;
  },
): RunningTunnel {
  const logs: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogRecord);
      cb();
    },
  });
  const relays: StreamRelay[] = [];
  const emitted: string[] = [];
  const log = pino({ level: 'debug' }, sink);
  // The reports to the root agent machine (none here): logged as the agent logs them.
  const reportLog = tunnelReportLog(log);
  const machine = createSocketMachine({
    ...deps,
    log,
    onRelay: (r) => relays.push(r),
  }).provide({
    actions: {
      notifyCredentialsRejected: (_, message: string) => {
        emitted.push(message);
        deps.onCredentialsRejected?.(message);
      },
      reportFailing: (_, p: { readonly kind: TunnelFailureKind; readonly message: string }) => {
        reportLog({ type: 'tunnel.disconnected', ...p });
      },
      reportRecovered: () => {
        reportLog({ type: 'tunnel.recovered' });
      },
    },
  });
  const states: { at: number; to: string }[] = [];
  const errors: unknown[] = [];
  const actor = createActor(machine, {
    input,
    inspect: transitionRecorder((t) => {
      if (t.machine === 'socket') states.push({ at: performance.now(), to: t.to });
    }),
  });
  actor.subscribe({ error: (err) => errors.push(err) });
  actor.start();
  return {
    actor,
    states,
    emitted,
    logs,
    relays,
    errors,
    stop: () => {
      actor.stop();
    },
    waitOpen: async (timeoutMs = 15_000) =>
      eventually(
        'the tunnel is open',
        () => Promise.resolve(actor.getSnapshot().matches({ session: 'open' }) ? performance.now() : undefined),
        { timeoutMs, intervalMs: 20 },
      ),
  };
}

/** A streaming GET (a watch): resolves with the body so far once `until` matches it, then aborts. */
export function streamUntil(
  url: string,
  ca: string,
  until: (body: string) => boolean,
  timeoutMs: number,
): { done: Promise<string>; connected: Promise<void> } {
  let onConnected: () => void = () => undefined;
  const connected = new Promise<void>((r) => (onConnected = r));
  const done = new Promise<string>((resolve, reject) => {
    let body = '';
    const req = httpsRequest(url, { ca }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`watch ${url}: HTTP ${String(res.statusCode)}`));
        req.destroy();
        return;
      }
      onConnected();
      res.on('data', (c: Buffer) => {
        body += c.toString();
        if (until(body)) {
          clearTimeout(timer);
          resolve(body);
          req.destroy();
        }
      });
      res.on('error', () => undefined);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`watch ${url}: nothing matched in ${String(timeoutMs)} ms; got ${body.slice(0, 300)}`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
  return { done, connected };
}
