// src/kube/client-node.ts: its three typed APIs against the package's own, method by method and on the
// wire (the same requests, the same decoded objects and errors), and the entry point's resolve and load hooks.

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as full from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lazyModelsSource, slimIndexUrl } from '../../../src/kube/client-node-hooks.ts';
import * as slim from '../../../src/kube/client-node.ts';

const dist = createRequire(import.meta.url)
  .resolve('@kubernetes/client-node')
  .replace(/index\.js$/, '');

/** Each method of `Object<group>` in the package's ObjectParamAPI.js and the fields it passes, in order. */
function objectParamMethods(group: string): Map<string, string[]> {
  const source = readFileSync(`${dist}gen/types/ObjectParamAPI.js`, 'utf8');
  const start = source.indexOf(`export class Object${group} {`);
  const end = source.indexOf('\nexport class ', start + 1);
  const body = source.slice(start, end === -1 ? undefined : end);
  const out = new Map<string, string[]>();
  for (const m of body.matchAll(
    /\n {4}(\w+)\(param(?: = \{\})?, options\) \{\n\s+return this\.api\.(\w+)\(([^)]*)\)/g,
  )) {
    const args = (m[3] ?? '').split(',').map((a) => a.trim());
    expect(args.pop()).toBe('options');
    out.set(
      m[1] ?? '',
      args.map((a) => a.replace(/^param\./, '')),
    );
  }
  return out;
}

describe('the typed APIs built from the request factories', () => {
  const groups = [
    ['CoreV1Api', slim.CoreV1Api, full.CoreV1Api],
    ['CustomObjectsApi', slim.CustomObjectsApi, full.CustomObjectsApi],
    ['CoordinationV1Api', slim.CoordinationV1Api, full.CoordinationV1Api],
  ] as const;

  it.each(groups)('%s: every method of the package, with its parameters in the same order', (group, ours, theirs) => {
    const expected = objectParamMethods(group);
    expect(expected.size).toBeGreaterThan(group === 'CoreV1Api' ? 200 : 5);
    const methods = (cls: object) =>
      Object.getOwnPropertyNames((cls as { prototype: object }).prototype)
        .filter((n) => n !== 'constructor')
        .sort();
    expect(methods(ours)).toEqual(methods(theirs));
    const proto = (ours as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const [method, fields] of expected) {
      expect(typeof proto[method], method).toBe('function');
      expect(slimParams(group, method.replace(/WithHttpInfo$/, '')), method).toEqual(fields);
    }
  });
});

function slimParams(group: string, method: string): string[] {
  const kc = kubeConfig('http://127.0.0.1:1');
  const cls = {
    CoreV1Api: slim.CoreV1Api,
    CustomObjectsApi: slim.CustomObjectsApi,
    CoordinationV1Api: slim.CoordinationV1Api,
  }[group] as unknown as typeof slim.CoreV1Api;
  const api = kc.makeApiClient(cls) as unknown as { requestFactory: Record<string, (...a: unknown[]) => unknown> };
  const fn = api.requestFactory[method];
  if (fn === undefined) throw new Error(`no factory method ${method}`);
  return slim.parameterNames(fn);
}

function kubeConfig(server: string): slim.KubeConfig {
  const kc = new slim.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

describe('on the wire, beside the package', () => {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers['content-type'] ?? ''} ${body}`);
      res.setHeader('Content-Type', 'application/json');
      if (req.url?.includes('/missing') === true) {
        res.statusCode = 404;
        res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}');
        return;
      }
      if (req.url?.includes('/leases/') === true) {
        res.end(
          '{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"l","resourceVersion":"7"},"spec":{"holderIdentity":"a","renewTime":"2026-01-02T03:04:05.678901Z","leaseDurationSeconds":15}}',
        );
        return;
      }
      res.end(
        '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","namespace":"n","creationTimestamp":"2026-01-02T03:04:05Z"},"data":{"a":"Yg=="},"type":"Opaque"}',
      );
    });
  });
  let origin = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    origin = `http://127.0.0.1:${String(typeof a === 'object' && a !== null ? a.port : 0)}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  async function both<T>(call: (kc: slim.KubeConfig, which: 'slim' | 'full') => Promise<T>) {
    seen.length = 0;
    const ours = await call(kubeConfig(origin), 'slim').catch((e: unknown) => e);
    const theirs = await call(kubeConfig(origin), 'full').catch((e: unknown) => e);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    return { ours, theirs };
  }

  it('reads a Secret into the same typed object (Date fields and all)', async () => {
    const { ours, theirs } = await both((kc, w) =>
      kc
        .makeApiClient(w === 'slim' ? slim.CoreV1Api : full.CoreV1Api)
        .readNamespacedSecret({ name: 's', namespace: 'n' }),
    );
    expect(ours).toEqual(theirs);
    expect((ours as full.V1Secret).metadata?.creationTimestamp).toBeInstanceOf(Date);
  });

  it('replaces a Lease with the same body, and decodes the answer the same way', async () => {
    const body: full.V1Lease = {
      metadata: { name: 'l', resourceVersion: '6' },
      spec: { holderIdentity: 'a', renewTime: new slim.V1MicroTime('2026-01-02T03:04:05.678901Z') },
    };
    const { ours, theirs } = await both((kc, w) =>
      kc
        .makeApiClient(w === 'slim' ? slim.CoordinationV1Api : full.CoordinationV1Api)
        .replaceNamespacedLease({ name: 'l', namespace: 'n', body }),
    );
    expect(ours).toEqual(theirs);
    expect(seen[0]).toContain('PUT /apis/coordination.k8s.io/v1/namespaces/n/leases/l application/json');
  });

  it('merge-patches a custom object with the header option, and fails a 404 with the same ApiException', async () => {
    const { ours, theirs } = await both((kc, w) =>
      kc
        .makeApiClient(w === 'slim' ? slim.CustomObjectsApi : full.CustomObjectsApi)
        .patchClusterCustomObject(
          { group: 'g', version: 'v1', plural: 'missing', name: 'x', body: { a: 1 } },
          slim.setHeaderOptions('Content-Type', slim.PatchStrategy.MergePatch),
        ),
    );
    expect(ours).toBeInstanceOf(slim.ApiException);
    expect(ours).toBeInstanceOf(full.ApiException);
    expect((ours as full.ApiException<unknown>).code).toBe(404);
    expect(String(ours)).toBe(String(theirs));
    expect(seen[0]).toContain('PATCH /apis/g/v1/missing/x application/merge-patch+json {"a":1}');
  });
});

describe("the entry point's resolve hook", () => {
  it('gives config.js the two values it imports from the generated index, from their own modules', async () => {
    const url = slimIndexUrl(pathToFileURL(`${dist}config.js`).href);
    const mod = (await import(url)) as Record<string, unknown>;
    expect(Object.keys(mod).sort()).toEqual(['ServerConfiguration', 'createConfiguration']);
    const gen = (await import(pathToFileURL(`${dist}gen/index.js`).href)) as Record<string, unknown>;
    expect(mod.ServerConfiguration).toBe(gen.ServerConfiguration);
    expect(mod.createConfiguration).toBe(gen.createConfiguration);
    // config.js imports nothing else from the index
    const imports = [
      ...readFileSync(`${dist}config.js`, 'utf8').matchAll(/import \{([^}]*)\} from '\.\/gen\/index\.js'/g),
    ];
    expect(imports).toHaveLength(1);
    expect(
      imports[0]?.[1]
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .sort(),
    ).toEqual(['ServerConfiguration', 'createConfiguration']);
  });
});

describe("the entry point's load hook: ObjectSerializer's models on first use", () => {
  const file = `${dist}gen/models/ObjectSerializer.js`;
  const url = pathToFileURL(file).href;
  const source = readFileSync(file, 'utf8');
  interface Serializer {
    deserialize: (data: unknown, type: string, format: string) => unknown;
    serialize: (data: unknown, type: string, format: string) => unknown;
  }

  async function both(): Promise<{ lazy: Serializer; eager: Serializer; lazySource: string }> {
    const lazySource = lazyModelsSource(source, url);
    expect(lazySource).toBeDefined();
    const lazy = (await import(`data:text/javascript,${encodeURIComponent(lazySource ?? '')}`)) as {
      ObjectSerializer: Serializer;
    };
    const eager = (await import(url)) as { ObjectSerializer: Serializer };
    return { lazy: lazy.ObjectSerializer, eager: eager.ObjectSerializer, lazySource: lazySource ?? '' };
  }

  it('applies to the installed package, and leaves no other use of a model than its lookup', async () => {
    const { lazySource } = await both();
    const models = [...source.matchAll(/^import \{ (\w+) \} from '\.\.\/models\/\w+\.js';$/gm)].map((m) => m[1] ?? '');
    expect(models.length).toBeGreaterThan(700);
    // Past the lookup table (its first line), no model is named: nothing else used the imports.
    const code = lazySource.split('\n').slice(3).join('\n');
    const named = new Set(code.match(/\b[A-Z]\w*\b/g) ?? []);
    expect(models.filter((m) => named.has(m))).toEqual([]);
    expect(lazySource).not.toMatch(/^export \* from/m);
    expect(lazySource).not.toMatch(/^import \{ \w+ \} from '\.\.\/models/m);
  });

  it('decodes and encodes every model as the package does, with the same classes', async () => {
    const { lazy, eager } = await both();
    const models = [...source.matchAll(/^ {4}"(\w+)": \w+,$/gm)].map((m) => m[1] ?? '');
    expect(models.length).toBeGreaterThan(700);
    for (const type of models) {
      const ours = lazy.deserialize({ metadata: { name: 'x' } }, type, '');
      const theirs = eager.deserialize({ metadata: { name: 'x' } }, type, '');
      expect(ours, type).toEqual(theirs);
      expect(Object.getPrototypeOf(ours), type).toBe(Object.getPrototypeOf(theirs));
    }
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'l', creationTimestamp: '2026-01-02T03:04:05Z', managedFields: [{ manager: 'm' }] },
      spec: { holderIdentity: 'a', renewTime: '2026-01-02T03:04:05.678901Z', leaseDurationSeconds: 15 },
    };
    const decoded = lazy.deserialize(lease, 'V1Lease', '');
    expect(decoded).toEqual(eager.deserialize(lease, 'V1Lease', ''));
    expect(lazy.serialize(decoded, 'V1Lease', '')).toEqual(eager.serialize(decoded, 'V1Lease', ''));
    // Unknown names and the object's own keys behave as the literal map did.
    expect(lazy.deserialize({ a: 1 }, 'NoSuchType', '')).toEqual({ a: 1 });
  });
});
