import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import { formatVersion, usage } from '../../../src/cli/output.ts';
import { versionInfo } from '../../../src/version.ts';
import packageJson from '../../../package.json' with { type: 'json' };

describe('parseCommandLine', () => {
  it.each([
    [[], { kind: 'run' }],
    [['--help'], { kind: 'help' }],
    [['-h'], { kind: 'help' }],
    [['--version'], { kind: 'version', format: 'short' }],
    [['--version=short'], { kind: 'version', format: 'short' }],
    [['--version=json'], { kind: 'version', format: 'json' }],
    [['--version=yaml'], { kind: 'version', format: 'yaml' }],
    [['--version', '--help'], { kind: 'help' }],
  ])('%j → %j', (argv, expected) => {
    expect(parseCommandLine(argv)).toEqual(expected);
  });

  it('reports every bad argument at once', () => {
    expect(parseCommandLine(['--version=xml', '--no-such-flag=1', 'stray', '-x'])).toEqual({
      kind: 'invalid',
      errors: [
        'invalid argument "xml" for "--version" flag: must be short, json or yaml',
        'unknown flag: --no-such-flag',
        'unexpected argument "stray": clusternet-agent takes flags only',
        'unknown flag: -x',
      ],
    });
  });
});

describe('version output', () => {
  const info = versionInfo({ CLUSTERNET_AGENT_GIT_COMMIT: 'abc123' });

  it('matches the Go agent: "clusternet-agent version: <gitVersion>"', () => {
    expect(formatVersion(info, 'short')).toBe(`clusternet-agent version: v${packageJson.version}\n`);
  });

  it('json carries programName and the Kubernetes version-info fields', () => {
    const parsed = JSON.parse(formatVersion(info, 'json')) as Record<string, string>;
    expect(Object.keys(parsed).sort()).toEqual([
      'buildDate',
      'compiler',
      'gitCommit',
      'gitTreeState',
      'gitVersion',
      'goVersion',
      'major',
      'minor',
      'platform',
      'programName',
    ]);
    expect(parsed.gitCommit).toBe('abc123');
    expect(parsed.platform).toMatch(/^linux\/(amd64|arm64)$/);
  });

  it('yaml has one key per line', () => {
    expect(formatVersion(info, 'yaml').split('\n')).toContain(`gitVersion: "v${packageJson.version}"`);
  });
});

describe('the clusternet-agent executable', () => {
  const main = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));
  const run = (...args: string[]) => promisify(execFile)(process.execPath, [main, ...args]);

  it('prints its version and exits 0', async () => {
    const { stdout } = await run('--version');
    expect(stdout).toBe(`clusternet-agent version: v${packageJson.version}\n`);
  });

  it('prints usage for --help', async () => {
    expect((await run('--help')).stdout).toBe(usage);
  });

  it('exits 2 with a one-line error per bad flag', async () => {
    const err = (await run('--bogus', '--version=xml').catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toBe(
      'clusternet-agent: unknown flag: --bogus\n' +
        'clusternet-agent: invalid argument "xml" for "--version" flag: must be short, json or yaml\n' +
        "Run 'clusternet-agent --help' for usage.\n",
    );
  });
});

describe('the built package', () => {
  it('compiles to dist/ with the bin entry runnable as a script', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const out = mkdtempSync(join(tmpdir(), 'agent-build-'));
    try {
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      await promisify(execFile)(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out]);
      const bin = join(out, packageJson.bin['clusternet-agent'].replace(/^dist\//, ''));
      expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
      const { stdout } = await promisify(execFile)(process.execPath, [bin, '--version']);
      expect(stdout).toBe(`clusternet-agent version: v${packageJson.version}\n`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
