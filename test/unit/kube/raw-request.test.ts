// rawRequest against a loopback HTTP server: the path it asks for, with the server URL's own path kept.

import { createServer, type IncomingMessage } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../../../src/kube/raw-request.ts';

const seen: string[] = [];
/** A body of multi-byte characters, sent in writes that split them (`/split`), or one too large (`/large`). */
const wide = JSON.stringify({ name: 'ñ€🙂'.repeat(2000) });
const server = createServer((req: IncomingMessage, res) => {
  seen.push(req.url ?? '');
  res.setHeader('Content-Type', 'application/json');
  if (req.url === '/split') {
    const bytes = Buffer.from(wide, 'utf8');
    // Odd-sized writes: most boundaries fall inside a character.
    for (let i = 0; i < bytes.length; i += 7) res.write(bytes.subarray(i, i + 7));
    res.end();
    return;
  }
  if (req.url === '/large') {
    res.end('x'.repeat(4096));
    return;
  }
  res.end('{"kind":"Status"}');
});
let origin = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  origin = `http://127.0.0.1:${String(typeof a === 'object' && a !== null ? a.port : 0)}`;
});
afterAll(() => new Promise((r) => server.close(r)));

function kubeConfig(serverUrl: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: serverUrl, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

describe('rawRequest', () => {
  it.each([
    { server: '', path: '/api/v1/namespaces?limit=1', expected: '/api/v1/namespaces?limit=1' },
    { server: '/', path: '/api/v1/namespaces', expected: '/api/v1/namespaces' },
    { server: '/k8s/clusters/p1', path: '/apis/a/v1/x?watch=1', expected: '/k8s/clusters/p1/apis/a/v1/x?watch=1' },
    { server: '/k8s/clusters/p1/', path: '/apis/a/v1/x', expected: '/k8s/clusters/p1/apis/a/v1/x' },
  ])('asks $server for $path at $expected', async ({ server: prefix, path, expected }) => {
    seen.length = 0;
    const res = await rawRequest(kubeConfig(`${origin}${prefix}`), { method: 'GET', path });
    expect(res.status).toBe(200);
    expect(seen).toEqual([expected]);
  });

  it('decodes characters split across chunks', async () => {
    const res = await rawRequest(kubeConfig(origin), { method: 'GET', path: '/split' });
    expect(res.body).toBe(wide);
  });

  it('fails an answer larger than maxBodyBytes', async () => {
    await expect(rawRequest(kubeConfig(origin), { method: 'GET', path: '/large', maxBodyBytes: 1000 })).rejects.toThrow(
      /answer larger than 1000 bytes/,
    );
  });
});
