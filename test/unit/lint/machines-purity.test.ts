import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { machinesArePure } from '../../../eslint.config.js';

const lint = async (code: string, filePath: string): Promise<string[]> => {
  const eslint = new ESLint({
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, machinesArePure],
  });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? ''}: ${m.message}`);
};

describe('lint rule: machines/ stays pure', () => {
  it.each([
    "import { setup } from 'xstate';",
    "import { SimulatedClock } from 'xstate/dist/xstate-actors.esm.js';",
    "import { nextDelay } from './backoff.ts';",
    "import type { LeaseView } from '../machines/lease.ts';",
  ])('allows %s', async (code) => {
    expect(await lint(code, 'machines/registration.ts')).toEqual([]);
  });

  it.each([
    "import { readFile } from 'node:fs';",
    "import { KubeConfig } from '@kubernetes/client-node';",
    "import WebSocket from 'ws';",
    "import pino from 'pino';",
    "import { Subject } from 'rxjs';",
    "import { parseCommandLine } from '../src/cli/command-line.ts';".replace('../src', 'src'),
    "export { x } from 'node:os';",
  ])('rejects %s', async (code) => {
    const messages = await lint(code, 'machines/registration.ts');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^no-restricted-imports: .*machines\/ is pure/);
  });

  it('does not apply outside machines/', async () => {
    expect(await lint("import { readFile } from 'node:fs';", 'src/main.ts')).toEqual([]);
  });
});
