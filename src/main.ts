#!/usr/bin/env node
// clusternet-agent entry point. V8's compile cache (NODE_COMPILE_CACHE, or the default cache directory)
// cuts start-up by reusing compiled code across restarts; it must be enabled before anything else loads.

import { enableCompileCache } from 'node:module';

try {
  enableCompileCache();
} catch {
  // No writable cache directory (e.g. a read-only root filesystem without NODE_COMPILE_CACHE): go on.
}
await import('./cli/run.ts');
