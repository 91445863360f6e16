// For integration test files: the environment started by the global setup.

import { inject } from 'vitest';
import { TestEnv } from './test-env.ts';

let cached: TestEnv | undefined;

export function testEnv(): TestEnv {
  cached ??= TestEnv.fromFile(inject('testEnvDescriptor'));
  return cached;
}
