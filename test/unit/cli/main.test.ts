import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatVersion, renderUsage } from '../../../src/cli/output.ts';
import { versionInfo } from '../../../src/version.ts';
import packageJson from '../../../package.json' with { type: 'json' };

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

  it('yaml is what the Go agent prints: keys sorted, quoted only where YAML needs it', () => {
    const [major = '', minor = ''] = packageJson.version.split('.');
    expect(formatVersion({ ...info, gitTreeState: 'clean' }, 'yaml')).toBe(
      [
        'buildDate: "1970-01-01T00:00:00Z"',
        'compiler: node',
        'gitCommit: abc123',
        'gitTreeState: clean',
        `gitVersion: v${packageJson.version}`,
        `goVersion: node${process.versions.node}`,
        `major: "${major}"`,
        `minor: "${minor}"`,
        `platform: ${info.platform}`,
        'programName: clusternet-agent',
        '',
      ].join('\n'),
    );
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
    expect((await run('--help')).stdout).toBe(renderUsage());
  });

  it('exits 1 (as the Go agent) with a one-line error per bad flag', async () => {
    const err = (await run('--bogus', '--secure-port=x').catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toBe(
      'clusternet-agent: unknown flag: --bogus\n' +
        'clusternet-agent: invalid argument "x" for "--secure-port" flag: must be an integer\n' +
        "Run 'clusternet-agent --help' for usage.\n",
    );
  });

  it('exits 1 listing every invalid value at once, never echoing the token', async () => {
    const secret = 'abcdef.0123456789abcdeX';
    const err = (await run(
      `--cluster-reg-token=${secret}`,
      '--cluster-reg-parent-url=ftp://x',
      '--cluster-sync-mode=Push',
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    const lines = err.stderr.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/cluster-reg-parent-url "ftp:\/\/x" is not a valid URL/);
    expect(lines[1]).toMatch(/cluster-reg-token is malformed/);
    expect(lines[2]).toMatch(/Push requires the feature gate AppPusher=true/);
    expect(err.stderr).not.toContain(secret);
    expect(err.stderr).not.toContain('0123456789');
  });
});

describe('warnings at start-up', () => {
  it('logs what was accepted as the Go agent accepts it, before starting', async () => {
    const main = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));
    // A kubeconfig that does not exist ends the agent right after the start-up lines.
    const err = (await promisify(execFile)(process.execPath, [
      main,
      '--cluster-reg-parent-url=https://127.0.0.1:1',
      '--cluster-reg-token=abcdef.0123456789abcdef',
      '--kubeconfig=/nonexistent/kubeconfig',
      '--secure-port=0',
      '--leader-elect-resource-lock=configmaps',
      '--cluster-labels=broken,env=prod',
    ]).catch((e: unknown) => e)) as { code: number; stdout: string };
    expect(err.code).toBe(1);
    const warnings = err.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .filter((l) => l.level === 'warn')
      .map((l) => l.msg);
    expect(warnings).toEqual([
      '--cluster-labels: "broken" is not key=value; skipped',
      '--leader-elect-resource-lock=configmaps is ignored: a Lease is always used, as by the Go agent',
    ]);
  });
});

describe('the built package', () => {
  it('compiles to dist/ with the bin entry runnable as a script', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    // Inside the project (gitignored) so the bundle resolves its dependencies from node_modules.
    mkdirSync(join(root, '.test-results'), { recursive: true });
    const out = mkdtempSync(join(root, '.test-results', 'build-'));
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

describe('URL userinfo and the in-cluster configuration at start-up', () => {
  const main = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));
  interface Outcome {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
  }
  const start = (args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> =>
    promisify(execFile)(process.execPath, [main, ...args], { env }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: unknown) => e as Outcome,
    );
  // Without the in-cluster variables: outside a pod.
  const outsideAPod: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KUBERNETES_SERVICE_')) outsideAPod[k] = v;
  const base = ['--cluster-reg-token=abcdef.0123456789abcdef', '--secure-port=0'];

  it('never prints the password of --cluster-reg-parent-url: flags line, errors, text and JSON', async () => {
    for (const format of ['json', 'text']) {
      const r = await start(
        [
          '--cluster-reg-parent-url=https://admin:s3cret@127.0.0.1:1',
          '--kubeconfig=/nonexistent',
          `--logging-format=${format}`,
          ...base,
        ],
        outsideAPod,
      );
      expect(r.code).toBe(1);
      const out = r.stdout + r.stderr;
      expect(out).toContain('"cluster-reg-parent-url":"https://<redacted>@127.0.0.1:1"');
      expect(out).not.toContain('s3cret');
      expect(out).not.toContain('admin');
    }
    const invalid = await start(['--cluster-reg-parent-url=ftp://admin:s3cret@x', ...base], outsideAPod);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('--cluster-reg-parent-url "ftp://<redacted>@x" is not a valid URL');
    expect(invalid.stderr).not.toContain('s3cret');
  }, 60_000);

  it('without --kubeconfig outside a pod: one line saying to pass --kubeconfig, exit 1', async () => {
    const r = await start(
      ['--cluster-reg-parent-url=https://127.0.0.1:1', '--logging-format=json', ...base],
      outsideAPod,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.map((l) => l.msg)).toEqual([
      'starting clusternet-agent',
      'cannot start: no in-cluster configuration (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set): pass --kubeconfig',
    ]);
    expect(lines[1]?.level).toBe('fatal');
    expect(r.stdout).not.toContain('Invalid URL');
    const portOnly = await start(['--cluster-reg-parent-url=https://127.0.0.1:1', ...base], {
      ...outsideAPod,
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
    });
    expect(portOnly.code).toBe(1);
    expect(portOnly.stdout).toContain(
      'cannot start: no in-cluster configuration (KUBERNETES_SERVICE_PORT is not set): pass --kubeconfig',
    );
  }, 60_000);
});
