import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { smallFunctions } from '../../../eslint.config.js';

const lint = async (code: string, filePath: string): Promise<string[]> => {
  const eslint = new ESLint({
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, smallFunctions],
  });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? '');
};

/** A function of `n` statement lines (plus its signature and closing brace). */
const fn = (n: number): string =>
  `export function f(a: number): number {\n${Array.from({ length: n }, (_, i) => `  a += ${String(i)};`).join('\n')}\n  return a;\n}\n`;

/** A function with `n` if-branches, i.e. complexity n + 1. */
const branchy = (n: number): string =>
  `export function g(a: number): number {\n${Array.from({ length: n }, (_, i) => `  if (a === ${String(i)}) return ${String(i)};`).join('\n')}\n  return -1;\n}\n`;

describe('lint rule: small functions', () => {
  it('allows 80 lines and complexity 20', async () => {
    expect(await lint(fn(77), 'src/x.ts')).toEqual([]);
    expect(await lint(branchy(19), 'machines/x.ts')).toEqual([]);
  });

  it('rejects 81 lines and complexity 21, in src/ and machines/', async () => {
    expect(await lint(fn(79), 'src/x.ts')).toEqual(['max-lines-per-function']);
    expect(await lint(branchy(20), 'machines/x.ts')).toEqual(['complexity']);
  });

  it('does not count comments and blank lines', async () => {
    const padded = fn(70).replace('{\n', `{\n${'  // why\n\n'.repeat(40)}`);
    expect(await lint(padded, 'src/x.ts')).toEqual([]);
  });
});
