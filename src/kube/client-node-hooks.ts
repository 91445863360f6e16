// Loaded by the entry point before anything imports @kubernetes/client-node (see client-node.ts): the
// package's KubeConfig module (dist/config.js) imports its generated index only for createConfiguration
// and ServerConfiguration, and that index loads every generated model and API class. This resolve hook
// gives config.js a module with just those two, from the files that define them (the same module
// instances the index would re-export). Nothing else is redirected.

import { registerHooks } from 'node:module';

const configModule = '/@kubernetes/client-node/dist/config.js';

/** The module config.js gets for './gen/index.js': the two values it uses, from their own files. */
export function slimIndexUrl(parentUrl: string): string {
  const configuration = new URL('./gen/configuration.js', parentUrl).href;
  const servers = new URL('./gen/servers.js', parentUrl).href;
  const source = `export { createConfiguration } from ${JSON.stringify(configuration)};\nexport { ServerConfiguration } from ${JSON.stringify(servers)};\n`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

let registered = false;

export function loadOnlyWhatIsUsed(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL ?? '';
      if (specifier === './gen/index.js' && parent.endsWith(configModule)) {
        return { url: slimIndexUrl(parent), format: 'module', shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
  });
}
