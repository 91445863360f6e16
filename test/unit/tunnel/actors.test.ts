// The socket machine's real session actor against loopback failures: no parent listens, so every
// attempt ends at once and the machine backs off and retries.

import { createServer } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { createSocketMachine } from '../../../src/tunnel/actors.ts';
import type { DedicatedCredentials } from '../../../src/registration/wire.ts';
import { eventually } from '../../env/eventually.ts';

const proxyVars = ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'];
const savedEnv = Object.fromEntries(proxyVars.map((k) => [k, process.env[k]]));
afterEach(() => {
  for (const k of proxyVars) {
    const v = savedEnv[k];
    if (v === undefined) Reflect.deleteProperty(process.env, k);
    else process.env[k] = v;
  }
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  await new Promise((r) => srv.close(r));
  return typeof a === 'object' && a !== null ? a.port : 0;
}

async function machineAgainstNothing(credentials: DedicatedCredentials = { token: 't', caPem: undefined }) {
  let loads = 0;
  const machine = createSocketMachine({
    log: pino({ level: 'silent' }),
    allowedTargets: [],
    loadCredentials: () => {
      loads++;
      return Promise.resolve(credentials);
    },
  });
  const parentUrl = `https://127.0.0.1:${String(await closedPort())}`;
  const run = () => {
    const errors: unknown[] = [];
    const actor = createActor(machine, {
      input: { parentUrl, clusterId: 'c1', childServer: 'https://127.0.0.1:1' },
    });
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    return { actor, errors };
  };
  return { run, loads: () => loads };
}

describe('socket session actor', () => {
  it('reads the dedicated credentials once per run of the machine (one leadership term), not per process', async () => {
    const m = await machineAgainstNothing();
    const first = m.run();
    await eventually('three failed attempts', () =>
      Promise.resolve(first.actor.getSnapshot().context.attempt >= 3 ? true : undefined),
    );
    expect(m.loads()).toBe(1);
    first.actor.stop();
    const second = m.run(); // the root invokes the machine anew for the next term
    await eventually('a failed attempt', () =>
      Promise.resolve(second.actor.getSnapshot().context.attempt >= 2 ? true : undefined),
    );
    expect(m.loads()).toBe(2);
    second.actor.stop();
    expect([...first.errors, ...second.errors]).toEqual([]);
  });

  it('an HTTPS_PROXY it cannot use ends the attempt with the reason, no unhandled rejection', async () => {
    process.env.HTTPS_PROXY = 'http://[not-a-host';
    const m = await machineAgainstNothing();
    const { actor, errors } = m.run();
    await eventually('a failed attempt', () =>
      Promise.resolve(actor.getSnapshot().context.attempt >= 1 ? true : undefined),
    );
    expect(actor.getSnapshot().context.lastFailure).toMatch(/^cannot open the tunnel: .*Invalid URL/);
    expect(actor.getSnapshot().value).toBe('backingOff');
    actor.stop();
    expect(errors).toEqual([]);
  });
});
