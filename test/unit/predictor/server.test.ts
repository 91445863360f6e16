import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictorServer, maxBodyBytes } from '../../../src/predictor/server.ts';
import { decodeRequirements } from '../../../src/predictor/request.ts';
import type { Requirements } from '../../../src/predictor/algorithm.ts';

// The predictor's endpoints on a real loopback listener; the prediction is the count of requested
// millicores, or "no feasible nodes" when the selector asks for zone=none.
const predict = (r: Requirements) =>
  r.nodeSelector.zone === 'none'
    ? ({ ok: false, message: 'no feasible nodes found' } as const)
    : ({ ok: true, replicas: r.requests.cpu } as const);
const server = createPredictorServer(predict);
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(method: string, path: string, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the predictor endpoints (spec predictor §2)', () => {
  it('answers a prediction with indented JSON and no trailing newline', async () => {
    const a = await call('POST', '/replicas/predict', '{"resources":{"requests":{"cpu":"6m"}}}');
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('application/json');
    expect(a.body).toBe('{\n "replicas": {\n  "default": 6\n }\n}');
  });

  it('takes a trailing slash and a query string', async () => {
    const a = await call('POST', '/replicas/predict/?x=1', '{"resources":{"requests":{"cpu":"2m"}}}');
    expect(a.body).toBe('{\n "replicas": {\n  "default": 2\n }\n}');
  });

  it.each([
    ['POST', '/replicas/predict', '{"nodeSelector":{"zone":"none"}}', 500, 'no feasible nodes found\n'],
    ['GET', '/replicas/unscheduled', undefined, 500, 'Not Implemented\n'],
    ['GET', '/replicas/predict', undefined, 405, '405: Method Not Allowed'],
    ['POST', '/replicas/unscheduled', '{}', 405, '405: Method Not Allowed'],
    ['GET', '/replicas/other', undefined, 404, '404: Page Not Found'],
    ['GET', '/healthz', undefined, 404, '404 page not found\n'],
    ['GET', '/', undefined, 404, '404 page not found\n'],
  ])('%s %s → %i %j', async (method, path, body, status, text) => {
    const a = await call(method, path, body);
    expect(a.status).toBe(status);
    expect(a.body).toBe(text);
    expect(a.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('says which method is allowed', async () => {
    expect((await call('PUT', '/replicas/predict', '{}')).headers.allow).toBe('POST');
    expect((await call('DELETE', '/replicas/unscheduled')).headers.allow).toBe('GET');
  });

  it('marks the handler’s own errors nosniff', async () => {
    const a = await call('POST', '/replicas/predict', '{"nodeSelector":{"zone":"none"}}');
    expect(a.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each([
    ['an empty body', ''],
    ['broken JSON', '{"resources":'],
    ['a string', '"x"'],
    ['an array', '[]'],
    ['a selector that is not a map of strings', '{"nodeSelector":{"zone":1}}'],
    ['tolerations that are not a list', '{"tolerations":{"key":"k"}}'],
    ['a toleration key that is not a string', '{"tolerations":[{"key":5}]}'],
    ['fractional tolerationSeconds', '{"tolerations":[{"key":"k","tolerationSeconds":1.5}]}'],
    ['a bad quantity', '{"resources":{"requests":{"cpu":"lots"}}}'],
    ['a bad quantity in limits', '{"resources":{"limits":{"memory":"1Qi"}}}'],
    ['a quantity that is an object', '{"resources":{"requests":{"cpu":{}}}}'],
    ['resources that are a list', '{"resources":[]}'],
    ['an affinity that is a string', '{"affinity":"x"}'],
    ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
  ])('%s → 400 with a one-line reason', async (_, body) => {
    const a = await call('POST', '/replicas/predict', body);
    expect(a.status).toBe(400);
    expect(a.body).toMatch(/^decoding ReplicaRequirements: [^\n]+\n$/);
  });

  it('refuses a body larger than the bound with 400, and goes on serving', async () => {
    const a = await call('POST', '/replicas/predict', Buffer.alloc(maxBodyBytes + 1, 0x20));
    expect(a.status).toBe(400);
    expect(a.body).toMatch(/^request body larger than \d+ bytes\n$/);
    expect((await call('POST', '/replicas/predict', '{}')).status).toBe(200);
  });
});

describe('decoding ReplicaRequirements', () => {
  it('reads what the Go scheduler sends', () => {
    const d = decodeRequirements(
      '{"nodeSelector":{"disk":"ssd","zone":"a"},"tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule","tolerationSeconds":30}],"resources":{"limits":{"cpu":"250m","memory":"512Mi"},"requests":{"cpu":"500m","memory":"1Gi"}}}',
    );
    expect(d).toEqual({
      ok: true,
      requirements: {
        nodeSelector: { disk: 'ssd', zone: 'a' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }],
        requests: { cpu: 500, memory: 1024 ** 3, ephemeralStorage: 0, pods: 0, scalars: undefined },
      },
    });
  });
  it('reads null members as absent and keeps scalar requests', () => {
    const d = decodeRequirements(
      '{"nodeSelector":null,"tolerations":null,"resources":{"requests":{"nvidia.com/gpu":"2","pods":"3"}}}',
    );
    expect(d.ok && d.requirements.requests.scalars).toEqual(new Map([['nvidia.com/gpu', 2]]));
    expect(d.ok && d.requirements.requests.pods).toBe(0);
  });
});
