import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureKindOfStatus } from '../../../machines/failure.ts';
import { ApiFailure, classifyApiError, hasStatus, responseFailure } from '../../../src/kube/errors.ts';
import { rawRequest } from '../../../src/kube/raw-request.ts';

describe('classifyApiError', () => {
  it.each([
    [new ApiException(401, 'x', '{"message":"Unauthorized"}', {}), 'unauthorized', 'op: 401 Unauthorized'],
    [new ApiException(403, 'x', { message: 'forbidden: no' }, {}), 'forbidden', 'op: 403 forbidden: no'],
    [new ApiException(404, 'x', undefined, {}), 'notFound', 'op: 404 Not Found'],
    [new ApiException(409, 'x', { reason: 'AlreadyExists', message: 'exists' }, {}), 'conflict', 'op: 409 exists'],
    [new ApiException(422, 'x', undefined, {}), 'invalid', 'op: 422 Unprocessable Entity'],
    [new ApiException(429, 'x', undefined, {}), 'unreachable', 'op: 429 Too Many Requests'],
    [new ApiException(503, 'x', undefined, {}), 'unreachable', 'op: 503 Service Unavailable'],
    [new ApiException(418, 'x', 'teapot', {}), 'other', 'op: 418 teapot'],
    [Object.assign(new Error('Forbidden'), { statusCode: 403 }), 'forbidden', 'op: 403 Forbidden'],
    [
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      }),
      'unreachable',
      'op: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:1',
    ],
    [new Error('socket hang up'), 'unreachable', 'op: socket hang up'],
  ])('%s → %s', (err, kind, message) => {
    const f = classifyApiError(err, 'op');
    expect(f).toBeInstanceOf(ApiFailure);
    expect(f.kind).toBe(kind);
    expect(f.message).toBe(message);
  });

  it('keeps the status and the Status reason, and leaves a classified failure as it is', () => {
    const f = classifyApiError(new ApiException(409, 'x', '{"reason":"AlreadyExists","message":"m"}', {}), 'op');
    expect([f.status, f.reason]).toEqual([409, 'AlreadyExists']);
    expect(classifyApiError(f, 'again')).toBe(f);
    expect(hasStatus(f, 409)).toBe(true);
    expect(hasStatus(new ApiException(404, 'x', undefined, {}), 404)).toBe(true);
    expect(hasStatus(new Error('x'), 404)).toBe(false);
  });

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'notFound'],
    [409, 'conflict'],
    [400, 'invalid'],
    [422, 'invalid'],
    [429, 'unreachable'],
    [500, 'unreachable'],
    [503, 'unreachable'],
    [302, 'other'],
  ] as const)('HTTP %i is %s', (status, kind) => {
    expect(failureKindOfStatus(status)).toBe(kind);
  });
});

// The same answers of a real HTTP server through both stacks give the same failure.
describe('both HTTP stacks', () => {
  const answers: Record<string, [number, string]> = {
    unauthorized: [401, '{"kind":"Status","reason":"Unauthorized","message":"Unauthorized"}'],
    forbidden: [403, '{"kind":"Status","reason":"Forbidden","message":"secrets \\"s\\" is forbidden"}'],
    gone: [404, '{"kind":"Status","reason":"NotFound","message":"secrets \\"s\\" not found"}'],
    restarting: [503, 'the server is restarting'],
  };
  let server: Server;
  let kc: KubeConfig;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const name = req.url?.split('/').at(-1) ?? '';
      const [status, body] = answers[name] ?? [500, ''];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });
  afterAll(() => {
    server.close();
  });

  it.each(Object.keys(answers))('classify the answer %s alike', async (name) => {
    const typed = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name, namespace: 'ns' })
      .then(
        () => undefined,
        (err: unknown) => classifyApiError(err, 'reading'),
      );
    const res = await rawRequest(kc, { method: 'GET', path: `/api/v1/namespaces/ns/secrets/${name}` });
    const raw = responseFailure('reading', res);
    expect(typed).toBeDefined();
    expect({ kind: raw.kind, status: raw.status, reason: raw.reason, message: raw.message }).toEqual({
      kind: typed?.kind,
      status: typed?.status,
      reason: typed?.reason,
      message: typed?.message,
    });
  });
});
