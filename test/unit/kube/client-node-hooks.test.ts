// The entry point's hooks (src/kube/client-node-hooks.ts) for what loads packages a run may never use:
// client-node's OIDC, Azure and GCP auth providers (stand-ins that reach the package's provider for a
// user with an auth provider), and prom-client's CPU collector (@opentelemetry/api on first use). In this
// process against the package's own modules, and in a Node process with the hooks registered as the
// entry point registers them.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type * as PromClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { authProviderOnFirstUseUrl, authProviders, otelOnFirstUseSource } from '../../../src/kube/client-node-hooks.ts';

const require = createRequire(import.meta.url);
const dist = require.resolve('@kubernetes/client-node').replace(/index\.js$/, '');
const configUrl = pathToFileURL(`${dist}config.js`).href;

interface Provider {
  isAuthProvider(user: unknown): boolean;
  applyAuthentication(user: unknown, opts: { headers: Record<string, string> }): Promise<void>;
}
type ProviderClass = new () => Provider;

function classOf(module: unknown, name: string): ProviderClass {
  const found = (module as Record<string, ProviderClass | undefined>)[name];
  if (found === undefined) throw new Error(`no ${name}`);
  return found;
}

/** A JWT (unsigned) whose payload is `payload`. */
function jwt(payload: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(payload)}.sig`;
}

const echo = (json: object) => ({
  'cmd-path': '/bin/echo',
  'cmd-args': `'${JSON.stringify(json)}'`,
  'token-key': '{.token}',
  'expiry-key': '{.expiry}',
});

/** Users of each kind: no auth provider, and each provider with a config that works or fails. */
const users: Record<string, object> = {
  token: { name: 'u', token: 't' },
  azureExpired: {
    name: 'u',
    authProvider: { name: 'azure', config: { 'access-token': 'a', expiry: '2000-01-01T00:00:00Z' } },
  },
  azureCommand: {
    name: 'u',
    authProvider: { name: 'azure', config: echo({ token: 'az', expiry: '2099-01-01T00:00:00Z' }) },
  },
  gcpExpired: {
    name: 'u',
    authProvider: { name: 'gcp', config: { 'access-token': 'g', expiry: '2000-01-01T00:00:00Z' } },
  },
  gcpCommand: {
    name: 'u',
    authProvider: { name: 'gcp', config: echo({ token: 'gc', expiry: '2099-01-01T00:00:00Z' }) },
  },
  oidcValid: { name: 'u', authProvider: { name: 'oidc', config: { 'id-token': jwt({ exp: 4102444800 }) } } },
  oidcRefresh: {
    name: 'u',
    authProvider: {
      name: 'oidc',
      config: {
        'id-token': jwt({ exp: 946684800 }),
        'client-id': 'c',
        'refresh-token': 'r',
        'idp-issuer-url': 'http://127.0.0.1:9/',
      },
    },
  },
};

/** What a provider makes of a user: whether it is its provider, and the header it sets or its error. */
async function outcome(provider: Provider, user: object): Promise<string> {
  const mine = provider.isAuthProvider(structuredClone(user));
  if (!mine) return 'not mine';
  const opts = { headers: {} as Record<string, string> };
  try {
    await provider.applyAuthentication(structuredClone(user), opts);
    return `header ${opts.headers.Authorization ?? '(none)'}`;
  } catch (err) {
    return `error ${String(err)}`;
  }
}

describe("client-node's auth providers, loaded on first use", () => {
  it('each stand-in answers and authenticates as the package provider does, for every kind of user', async () => {
    for (const [specifier, name] of Object.entries(authProviders)) {
      const standIn = classOf(await import(authProviderOnFirstUseUrl(specifier, configUrl) ?? ''), name);
      const real = classOf(await import(new URL(specifier, configUrl).href), name);
      expect(standIn.name).toBe(name);
      for (const [kind, user] of Object.entries(users)) {
        const theirs = await outcome(new real(), user);
        expect(await outcome(new standIn(), user), `${name}, ${kind}`).toBe(theirs);
      }
    }
  });

  it('covers every provider config.js imports from a module that loads another package', () => {
    const source = readFileSync(`${dist}config.js`, 'utf8');
    const imported = [...source.matchAll(/^import \{ (\w+) \} from '(\.\/\w+_auth\.js)';$/gm)];
    expect(imported.map((m) => m[2]).sort()).toEqual([
      './azure_auth.js',
      './exec_auth.js',
      './file_auth.js',
      './gcp_auth.js',
      './oidc_auth.js',
    ]);
    for (const [, name, specifier] of imported) {
      const own = readFileSync(fileURLToPath(new URL(specifier ?? '', configUrl)), 'utf8');
      const packages = [...own.matchAll(/^import .* from '([^.][^']*)';$/gm)]
        .map((m) => m[1] ?? '')
        .filter((p) => !p.startsWith('node:'));
      expect(authProviders[specifier ?? ''], specifier).toBe(packages.length > 0 ? name : undefined);
    }
    expect(authProviderOnFirstUseUrl('./exec_auth.js', configUrl)).toBeUndefined();
  });
});

describe("prom-client's CPU collector, @opentelemetry/api on first use", () => {
  const file = require.resolve('prom-client/lib/metrics/processCpuTotal.js');
  const source = readFileSync(file, 'utf8');

  /** The module from `code`, with a require that records what it was asked for. */
  function evaluate(code: string): {
    collector: (registry: PromClient.Registry, config?: object) => void;
    asked: string[];
  } {
    const asked: string[] = [];
    const real = createRequire(file);
    const recording = (id: string): unknown => {
      asked.push(id);
      return real(id);
    };
    const module = { exports: {} as unknown };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the package's CommonJS source, as Node wraps it
    const wrapped = new Function('require', 'module', 'exports', code) as (...args: unknown[]) => void;
    wrapped(recording, module, module.exports);
    return { collector: module.exports as (registry: PromClient.Registry, config?: object) => void, asked };
  }

  it('applies to the installed package, which reads the API only through property accesses', () => {
    expect(otelOnFirstUseSource(source)).toBeDefined();
    const uses = [...source.matchAll(/\bOtelApi\b(.)/g)].map((m) => m[1]);
    expect(uses.slice(1).every((c) => c === '.')).toBe(true);
    expect(uses.length).toBeGreaterThan(2);
    expect(otelOnFirstUseSource(source.replace("require('@opentelemetry/api')", "require('x')"))).toBeUndefined();
  });

  it('collects without the API unless exemplars are on, then with the real one', async () => {
    const { Registry } = require('prom-client') as typeof PromClient;
    const lazy = evaluate(otelOnFirstUseSource(source) ?? '');
    const eager = evaluate(source);
    expect(eager.asked).toContain('@opentelemetry/api');
    const ours = new Registry();
    const theirs = new Registry();
    lazy.collector(ours);
    eager.collector(theirs);
    const names = (text: string) => text.split('\n').filter((l) => l.startsWith('#'));
    expect(names(await ours.metrics())).toEqual(names(await theirs.metrics()));
    expect(lazy.asked).not.toContain('@opentelemetry/api');

    const openMetrics = (): PromClient.Registry => {
      const r = new Registry();
      r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
      return r;
    };
    const withExemplars = openMetrics();
    lazy.collector(withExemplars, { enableExemplars: true });
    const reference = openMetrics();
    eager.collector(reference, { enableExemplars: true });
    expect(names(await withExemplars.metrics())).toEqual(names(await reference.metrics()));
    expect(lazy.asked.filter((id) => id === '@opentelemetry/api')).toHaveLength(1);
  });
});

describe("in a Node process with the entry point's hooks", () => {
  const run = promisify(execFile);
  const hooks = fileURLToPath(new URL('../../../src/kube/client-node-hooks.ts', import.meta.url));
  const metrics = fileURLToPath(new URL('../../../src/observability/prom-client.ts', import.meta.url));
  // Records the packages loaded, registers the hooks (or not), then uses a KubeConfig with a token user
  // and the default metrics, notes what was loaded, and goes on with each provider's users.
  const script = `
    import { registerHooks } from 'node:module';
    if (process.argv[1] === 'hooks') (await import(${JSON.stringify(hooks)})).loadOnlyWhatIsUsed();
    const loaded = new Set();
    registerHooks({ load(url, context, next) { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(url); if (m) loaded.add(m[1]); return next(url, context); } });
    const { KubeConfig } = await import(${JSON.stringify(configUrl)});
    const { Registry, collectDefaultMetrics } = await import(${JSON.stringify(metrics)});
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const text = await registry.metrics();
    const users = JSON.parse(process.argv[2]);
    const out = { cpu: text.includes('process_cpu_seconds_total '), outcomes: {} };
    for (const [kind, user] of Object.entries(users)) {
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [user], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
      const opts = {};
      try { await kc.applyToHTTPSOptions(opts); out.outcomes[kind] = 'header ' + opts.headers?.Authorization; }
      catch (err) { out.outcomes[kind] = 'error ' + String(err); }
      if (kind === 'token') out.afterToken = [...loaded].sort();
    }
    out.atEnd = [...loaded].sort();
    console.log(JSON.stringify(out));
  `;
  interface Out {
    cpu: boolean;
    outcomes: Record<string, string>;
    afterToken: string[];
    atEnd: string[];
  }
  async function agentProcess(mode: 'hooks' | 'package'): Promise<Out> {
    const { stdout } = await run(
      process.execPath,
      ['--no-warnings', '--input-type=module', '-e', script, mode, JSON.stringify(users)],
      {
        timeout: 30_000,
      },
    );
    return JSON.parse(stdout) as Out;
  }

  it('loads no auth provider package and no OpenTelemetry for a token user, and reaches each provider as the package does', async () => {
    const [ours, theirs] = await Promise.all([agentProcess('hooks'), agentProcess('package')]);
    expect(ours.cpu).toBe(true);
    expect(ours.outcomes).toEqual(theirs.outcomes);
    expect(ours.outcomes.azureExpired).toMatch(/Token is expired/);
    expect(ours.outcomes.gcpCommand).toBe('header Bearer gc');
    expect(ours.outcomes.oidcRefresh).toMatch(/^error /);
    const optional = ['@opentelemetry/api', 'jose', 'jsonpath-plus', 'openid-client'];
    expect(theirs.afterToken.filter((p) => optional.includes(p))).toEqual(optional);
    expect(ours.afterToken.filter((p) => optional.includes(p))).toEqual([]);
    // The providers' packages once users with those providers came.
    expect(ours.atEnd).toEqual(expect.arrayContaining(['jose', 'jsonpath-plus', 'openid-client']));
    expect(ours.atEnd).not.toContain('@opentelemetry/api');
  }, 60_000);
});
