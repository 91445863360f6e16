#!/usr/bin/env node
// clusternet-agent entry point. V8's compile cache (NODE_COMPILE_CACHE, or the default cache directory)
// cuts start-up by reusing compiled code across restarts; it must be enabled before anything else loads.

import { enableCompileCache } from 'node:module';
import { loadOnlyWhatIsUsed } from './kube/client-node-hooks.ts';

try {
  enableCompileCache();
} catch {
  // No writable cache directory (e.g. a read-only root filesystem without NODE_COMPILE_CACHE): go on.
}
// Before anything imports @kubernetes/client-node: load its KubeConfig without every generated API (docs/memory.md).
loadOnlyWhatIsUsed();
await import('./cli/run.ts');
