// ParentObjects.writeStatus against a stand-in parent that answers 409 a given number of times: one
// PUT per decision of afterStatusWrite, a fresh GET between conflicting attempts, at most
// statusWriteAttempts PUTs in all.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectMeta } from '../../../machines/deployer/decisions.ts';
import { statusWriteAttempts } from '../../../machines/deployer/timing.ts';
import { ParentObjects } from '../../../src/deployer/parent-writes.ts';

interface Thing {
  readonly metadata: ObjectMeta;
  readonly status?: { readonly phase: string };
}

const path = '/apis/x/v1/namespaces/ns/things/t';
let server: Server;
let url = '';
let conflicts = 0;
let requests: string[] = [];
let gone = false;

beforeEach(async () => {
  requests = [];
  gone = false;
  server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    req.resume();
    req.on('end', () => {
      const answer = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (gone) {
        answer(404, { kind: 'Status', code: 404 });
      } else if (req.method === 'GET') {
        answer(200, { metadata: { name: 't', namespace: 'ns', resourceVersion: String(requests.length) } });
      } else if (conflicts > 0) {
        conflicts--;
        answer(409, { kind: 'Status', code: 409, message: 'the object has been modified' });
      } else {
        answer(200, {
          metadata: { name: 't', namespace: 'ns', resourceVersion: 'written' },
          status: { phase: 'Done' },
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});
afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function things(): ParentObjects<Thing, { readonly phase: string }> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'p', server: url, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'p', user: 'u' }],
    currentContext: 'c',
  });
  return new ParentObjects<Thing, { readonly phase: string }>(kc, {
    collection: (ns) => `/apis/x/v1/namespaces/${ns}/things`,
    store: {
      get: () => undefined,
      remember: () => undefined,
    },
  });
}

const thing: Thing = { metadata: { name: 't', namespace: 'ns', resourceVersion: '1' } };
const done = (): { readonly phase: string } => ({ phase: 'Done' });

describe('ParentObjects.writeStatus (conflicts, spec §7.3)', () => {
  it('writes at once when there is no conflict', async () => {
    conflicts = 0;
    const written = await things().writeStatus(thing, done);
    expect(written?.metadata.resourceVersion).toBe('written');
    expect(requests).toEqual([`PUT ${path}/status`]);
  });

  it('reads the object again after each conflict and writes again: four conflicts, five PUTs', async () => {
    conflicts = statusWriteAttempts - 1;
    const written = await things().writeStatus(thing, done);
    expect(written?.status).toEqual({ phase: 'Done' });
    const puts = requests.filter((r) => r.startsWith('PUT'));
    const gets = requests.filter((r) => r.startsWith('GET'));
    expect(puts).toHaveLength(statusWriteAttempts);
    expect(gets).toEqual(Array.from({ length: statusWriteAttempts - 1 }, () => `GET ${path}`));
    expect(requests[0]).toBe(`PUT ${path}/status`);
    expect(requests[1]).toBe(`GET ${path}`);
  });

  it('gives up on the fifth conflict, with no GET after it', async () => {
    conflicts = statusWriteAttempts;
    await expect(things().writeStatus(thing, done)).rejects.toThrow(/writing the status of .*things\/t/);
    expect(requests.filter((r) => r.startsWith('PUT'))).toHaveLength(statusWriteAttempts);
    expect(requests.at(-1)).toBe(`PUT ${path}/status`);
  });

  it('a gone object writes nothing', async () => {
    gone = true;
    expect(await things().writeStatus(thing, done)).toBeUndefined();
    expect(requests).toEqual([`PUT ${path}/status`]);
  });

  it('nothing new to say: no request at all', async () => {
    expect(await things().writeStatus(thing, () => undefined)).toBeUndefined();
    expect(requests).toEqual([]);
  });
});
