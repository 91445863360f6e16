// Loaded by the entry point before anything imports @kubernetes/client-node or prom-client (see
// client-node.ts and src/observability/prom-client.ts).
//
// - The package's KubeConfig module (dist/config.js) imports its generated index only for
//   createConfiguration and ServerConfiguration, and that index loads every generated model and API
//   class. A resolve hook gives config.js a module with just those two, from the files that define them
//   (the same module instances the index would re-export).
// - The typed APIs decode and encode through the generated ObjectSerializer, whose module imports all
//   757 model classes (and re-exports them) to build its name → class map, although the agent reads
//   and writes a handful of kinds. A load hook gives that module its map as one that imports a model
//   the first time its name is looked up (synchronously: `require` of the model's ES module, the same
//   module instance an import would give), and drops the re-exports, which no module the agent loads
//   imports. The rest of its source is the package's. When the source is not of the expected shape
//   (another version of the package), it is left as it is.
// - config.js imports its OIDC, Azure and GCP auth providers (openid-client and jose, jsonpath-plus),
//   which only a kubeconfig user with an `auth-provider` uses. A resolve hook gives config.js stand-ins
//   that load the package's provider (`require` of its ES module: the same module instance) the first
//   time a user with an auth provider is asked about; for a user without one they answer false, as each
//   of the three does first.
// - prom-client's CPU collector (lib/metrics/processCpuTotal.js, one of its default metrics) requires
//   @opentelemetry/api at load, for exemplars the agent does not enable. A load hook has that module
//   require it the first time the collector reads it.
//
// Nothing else is redirected.

import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

const configModule = '/@kubernetes/client-node/dist/config.js';
const serializerModule = '/@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';

/** The module config.js gets for './gen/index.js': the two values it uses, from their own files. */
export function slimIndexUrl(parentUrl: string): string {
  const configuration = new URL('./gen/configuration.js', parentUrl).href;
  const servers = new URL('./gen/servers.js', parentUrl).href;
  const source = `export { createConfiguration } from ${JSON.stringify(configuration)};\nexport { ServerConfiguration } from ${JSON.stringify(servers)};\n`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

const typeMapStart = '\nlet typeMap = {\n';

/** The models ObjectSerializer.js imports, by identifier, with their specifiers; its source without those lines. */
function modelImports(source: string): { files: Map<string, string>; rest: string } {
  const files = new Map<string, string>();
  const rest: string[] = [];
  for (const line of source.split('\n')) {
    const imported = /^import \{ (\w+) \} from '(\.\.\/models\/\w+\.js)';$/.exec(line);
    if (imported?.[1] !== undefined && imported[2] !== undefined) files.set(imported[1], imported[2]);
    // The re-exports go, and the source map's reference (the lines moved).
    else if (!/^export \* from '\.\.\/models\/\w+\.js';$|^\/\/# sourceMappingURL=/.test(line)) rest.push(line);
  }
  return { files, rest: rest.join('\n') };
}

/**
 * ObjectSerializer.js (at `url`) with the model classes of its `typeMap` imported on first lookup, and
 * without its model imports and re-exports; undefined when the source is not of the expected shape.
 */
export function lazyModelsSource(source: string, url: string): string | undefined {
  const { files, rest } = modelImports(source);
  const start = rest.indexOf(typeMapStart);
  const end = rest.indexOf('\n};\n', start);
  if (files.size === 0 || start === -1 || end === -1) return undefined;
  const models: Record<string, [string, string]> = {};
  for (const entry of rest.slice(start + typeMapStart.length, end).split('\n')) {
    const m = /^ {4}"(\w+)": (\w+),$/.exec(entry);
    const file = m?.[2] === undefined ? undefined : files.get(m[2]);
    if (m?.[1] === undefined || m[2] === undefined || file === undefined) return undefined;
    models[m[1]] = [file, m[2]];
  }
  // Every imported model is in the map, and no other line names one (checked by test/unit/kube/client-node.test.ts).
  if (Object.keys(models).length !== files.size) return undefined;
  const lazyTypeMap = [
    'let typeMap = new Proxy({}, {',
    '    get(loaded, name) {',
    '        if (typeof name === "string" && Object.hasOwn(__models, name) && !Object.hasOwn(loaded, name)) {',
    '            const [file, id] = __models[name];',
    '            loaded[name] = __require(file)[id];',
    '        }',
    '        return Reflect.get(loaded, name);',
    '    },',
    '});',
  ].join('\n');
  return [
    'import { createRequire as __createRequire } from "node:module";',
    `const __require = __createRequire(${JSON.stringify(url)});`,
    `const __models = ${JSON.stringify(models)};`,
    rest.slice(0, start + 1) + lazyTypeMap + rest.slice(end + 3),
  ].join('\n');
}

/** The auth providers config.js imports that load packages of their own, by specifier: their class. */
export const authProviders: Readonly<Record<string, string>> = {
  './azure_auth.js': 'AzureAuth',
  './gcp_auth.js': 'GoogleCloudPlatformAuth',
  './oidc_auth.js': 'OpenIDConnectAuth',
};

/**
 * The module config.js gets for one of `authProviders`: a class of the same name whose instances create
 * the package's provider when first asked about a user with an auth provider (or when first asked to
 * authenticate) and hand it every call. config.js uses only `isAuthProvider` and `applyAuthentication`.
 */
export function authProviderOnFirstUseUrl(specifier: string, parentUrl: string): string | undefined {
  const name = authProviders[specifier];
  if (name === undefined) return undefined;
  const real = new URL(specifier, parentUrl).href;
  const source = [
    'import { createRequire } from "node:module";',
    `const require = createRequire(${JSON.stringify(real)});`,
    `export class ${name} {`,
    '    #provider;',
    '    #real() {',
    `        return (this.#provider ??= new (require(${JSON.stringify(fileURLToPath(real))}).${name})());`,
    '    }',
    '    isAuthProvider(user) {',
    '        if (user != null && !user.authProvider) return false;',
    '        return this.#real().isAuthProvider(user);',
    '    }',
    '    applyAuthentication(...args) {',
    '        return this.#real().applyAuthentication(...args);',
    '    }',
    '}',
  ].join('\n');
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

const otelRequire = "const OtelApi = require('@opentelemetry/api');";

/**
 * processCpuTotal.js with @opentelemetry/api required on its first use (any property read of `OtelApi`);
 * undefined when the source is not of the expected shape.
 */
export function otelOnFirstUseSource(source: string): string | undefined {
  const at = source.indexOf(otelRequire);
  if (at === -1 || source.includes(otelRequire, at + 1)) return undefined;
  const lazy =
    "let __otelApi; const OtelApi = new Proxy({}, { get: (_, name) => Reflect.get((__otelApi ??= require('@opentelemetry/api')), name) });";
  return source.slice(0, at) + lazy + source.slice(at + otelRequire.length);
}

const cpuCollectorModule = '/prom-client/lib/metrics/processCpuTotal.js';

function sourceText(source: string | ArrayBuffer | NodeJS.TypedArray): string {
  return typeof source === 'string' ? source : new TextDecoder().decode(source);
}

/** How the load hook rewrites the source of the module at `url`, if it is one it rewrites. */
function rewriteOf(url: string): ((source: string) => string | undefined) | undefined {
  if (url.endsWith(serializerModule)) return (source) => lazyModelsSource(source, url);
  if (url.endsWith(cpuCollectorModule)) return otelOnFirstUseSource;
  return undefined;
}

let registered = false;

export function loadOnlyWhatIsUsed(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL ?? '';
      if (parent.endsWith(configModule)) {
        if (specifier === './gen/index.js') return { url: slimIndexUrl(parent), format: 'module', shortCircuit: true };
        const standIn = authProviderOnFirstUseUrl(specifier, parent);
        if (standIn !== undefined) return { url: standIn, format: 'module', shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
    load(url, context, nextLoad) {
      const loaded = nextLoad(url, context);
      const rewrite = rewriteOf(url);
      if (rewrite === undefined || loaded.source === undefined) return loaded;
      const source = rewrite(sourceText(loaded.source));
      return source === undefined ? loaded : { ...loaded, source };
    },
  });
}
