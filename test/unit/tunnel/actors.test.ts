// The socket machine's real session actor against loopback failures: no parent listens, so every
// attempt ends at once and the machine backs off and retries.

import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { direct, type ProxyFunc } from '../../../src/kube/proxy.ts';
import { createSocketMachine, nonZeroMasks } from '../../../src/tunnel/actors.ts';
import type { DedicatedCredentials } from '../../../src/registration/wire.ts';
import { eventually } from '../../env/eventually.ts';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  await new Promise((r) => srv.close(r));
  return typeof a === 'object' && a !== null ? a.port : 0;
}

async function machineAgainstNothing(
  credentials: DedicatedCredentials = { token: 't', caPem: undefined },
  proxyFor: ProxyFunc = direct,
) {
  let loads = 0;
  const machine = createSocketMachine({
    log: pino({ level: 'silent' }),
    allowedTargets: [],
    proxyFor,
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

  it('a proxy it cannot use ends the attempt with the reason, no unhandled rejection', async () => {
    const m = await machineAgainstNothing(undefined, () => new URL('socks5://proxy.example:1080'));
    const { actor, errors } = m.run();
    await eventually('a failed attempt', () =>
      Promise.resolve(actor.getSnapshot().context.attempt >= 1 ? true : undefined),
    );
    expect(actor.getSnapshot().context.lastFailure).toMatch(
      /^cannot open the tunnel: proxy .*only http and https proxies/,
    );
    expect(actor.getSnapshot().value).toBe('backingOff');
    actor.stop();
    expect(errors).toEqual([]);
  });
});

/** ws's frame builder (not in its typings): the list of buffers a message is written as. */
const { Sender } = createRequire(import.meta.url)('ws') as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};

describe('websocket masks', () => {
  const frame = (data: Buffer, generateMask: (mask: Buffer) => void): Buffer[] =>
    Sender.frame(data, { fin: true, opcode: 2, mask: true, readOnly: true, rsv1: false, generateMask });

  it('ws frames a message with a zero mask as the caller buffer itself, with any other in a copy', () => {
    const data = Buffer.from('bytes of the shared read buffer');
    expect(frame(data, (m) => m.fill(0)).includes(data)).toBe(true); // what a later read would overwrite
    let fills = 0;
    const ours = frame(
      data,
      nonZeroMasks((pool) => pool.fill(fills++ === 0 ? 0 : 0x5a)),
    );
    expect(ours).toHaveLength(1);
    expect(ours.includes(data)).toBe(false);
    expect(data.toString()).toBe('bytes of the shared read buffer'); // masked into the copy, not in place
  });

  it('are never all zero: ws would then frame the relay shared read buffer without copying it', () => {
    let fills = 0;
    const generate = nonZeroMasks((pool) => {
      // The first pool is all zeros, the next all ones.
      pool.fill(fills++ === 0 ? 0 : 1);
    });
    const mask = Buffer.alloc(4);
    generate(mask);
    expect([...mask]).toEqual([1, 1, 1, 1]);
    expect(fills).toBe(2);
  });

  it('come from the random pool four bytes at a time', () => {
    const generate = nonZeroMasks((pool) => {
      for (let i = 0; i < pool.length; i++) pool[i] = i % 256;
    });
    const masks = Array.from({ length: 3 }, () => {
      const m = Buffer.alloc(4);
      generate(m);
      return [...m];
    });
    // [0, 1, 2, 3] is not zero: it is used as is.
    expect(masks).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
  });
});
