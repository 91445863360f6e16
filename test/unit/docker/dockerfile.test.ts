// What can be checked of docker/Dockerfile without a container engine: its bases are public images
// (each an ARG that CI replaces), its COPY sources exist and are in the build context, its stages,
// stamps and entry point hang together, and the production bundle the image would hold (the same tsc
// build, production dependencies only) starts on Node 24 and prints --version. The image itself is
// built and run by test/integration/image/.

import { execFile } from 'node:child_process';
import { chmod, cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import packageJson from '../../../package.json' with { type: 'json' };
import { parseV8Flags } from '../../../src/cli/v8-flags.ts';
import { dockerfilePath, envOf, imageRuntimeEnv, parseDockerfile } from '../../env/dockerfile.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dockerfile = readFileSync(dockerfilePath, 'utf8');
const ignoreFile = readFileSync(join(root, 'docker', 'Dockerfile.dockerignore'), 'utf8');
const run = promisify(execFile);

/** Whether Docker sends `path` in the build context, per the .dockerignore rules (last match wins). */
function inContext(path: string): boolean {
  let included = true;
  for (const raw of ignoreFile.split('\n').map((l) => l.trim())) {
    if (raw === '' || raw.startsWith('#')) continue;
    const negate = raw.startsWith('!');
    const pattern = negate ? raw.slice(1) : raw;
    if (matchesGlob(path, pattern) || matchesGlob(path, `${pattern}/**`)) included = negate;
  }
  return included;
}

const { stages } = parseDockerfile(dockerfile);
const final = stages.at(-1);
/** The V8 flags the deps stage writes into the entry point's #! line (docs/memory.md, step 7). */
const entryV8Flags = /^ENTRY_V8_FLAGS="([^"]*)"$/.exec(
  stages
    .find((s) => s.name === 'deps')
    ?.instructions.find((i) => i.op === 'ARG' && i.args.startsWith('ENTRY_V8_FLAGS='))?.args ?? '',
)?.[1];

describe('docker/Dockerfile', () => {
  it('takes every base from an ARG whose default is a public image; Node 24 is the release the tests run', () => {
    const { args } = parseDockerfile(dockerfile);
    for (const base of ['BUILD_IMAGE', 'RUNTIME_IMAGE', 'GO_IMAGE'])
      expect(args.get(base), base).toMatch(
        /^(docker\.io\/library|gcr\.io\/distroless)\/[a-z0-9.-]+:[\w.-]+(@sha256:[0-9a-f]{64})?$/,
      );
    for (const s of stages.filter((s) => !['helm-source', 'helm'].includes(s.name ?? '')))
      expect(s.from, String(s.name)).toBe(s === final ? args.get('RUNTIME_IMAGE') : args.get('BUILD_IMAGE'));
    // The exact release the tests run on (the `node` devDependency) is the image's, on Debian 12 as the runtime.
    const tested = (
      JSON.parse(readFileSync(join(root, 'node_modules/node/package.json'), 'utf8')) as { version: string }
    ).version;
    expect(tested.split('.')[0]).toBe(/^>=(\d+)/.exec(packageJson.engines.node)?.[1]);
    expect(args.get('BUILD_IMAGE')).toMatch(new RegExp(`/node:${tested.replaceAll('.', '\\.')}-bookworm-slim(@|$)`));
    expect(args.get('RUNTIME_IMAGE')).toMatch(/\/cc-debian12:/);
  });

  it('builds helm from its Go module at the version the tests use, and puts it on PATH', () => {
    const versions = JSON.parse(readFileSync(join(root, 'test/env/versions.json'), 'utf8')) as { helm: string };
    const { args } = parseDockerfile(dockerfile);
    expect(args.get('HELM_VERSION')).toBe(versions.helm);
    const helm = stages.find((s) => s.name === 'helm-source');
    expect(helm?.from).toMatch(/\/golang:\d+\.\d+/);
    // The stage `helm` is helm-source unless CI names an image holding /out/helm.
    expect(args.get('HELM_STAGE')).toBe('helm-source');
    expect(stages.find((s) => s.name === 'helm')?.from).toBe('helm-source');
    const build = helm?.instructions.find((i) => i.op === 'RUN')?.args ?? '';
    expect(build).toContain('go install');
    expect(build).toContain('"helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"');
    expect(build).toContain('-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}');
    // The same stamping as test/env/build/kube-bins.sh.
    const script = readFileSync(join(root, 'test/env/build/kube-bins.sh'), 'utf8');
    for (const stamp of ['chartutil.k8sVersionMinor', 'lint/rules.k8sVersionMinor']) {
      expect(script).toContain(stamp);
      expect(build).toContain(stamp);
    }
    const copy = stages
      .flatMap((s) => s.instructions)
      .find((i) => i.op === 'COPY' && i.args.startsWith('--from=helm '));
    expect(copy?.args).toBe('--from=helm /out/helm /rootfs/usr/local/bin/helm');
  });

  it('copies only sources that exist and are in the build context; --from names an earlier stage', () => {
    const names = new Set<string>();
    let copies = 0;
    for (const s of stages) {
      for (const ins of s.instructions.filter((i) => i.op === 'COPY')) {
        const words = ins.args.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((w) => !w.startsWith('--'));
        const sources = paths.slice(0, -1);
        expect(sources.length, ins.args).toBeGreaterThan(0);
        if (from !== undefined) {
          expect(names, `stage ${from}`).toContain(from);
          continue;
        }
        for (const src of sources) {
          copies += 1;
          expect(existsSync(join(root, src)), `${src} exists`).toBe(true);
          const files = statSync(join(root, src)).isDirectory()
            ? readdirSync(join(root, src), { recursive: true, withFileTypes: true })
                .filter((e) => e.isFile())
                .map((e) => relative(root, join(e.parentPath, e.name)))
            : [src];
          expect(files.length).toBeGreaterThan(0);
          for (const f of files) expect(inContext(f), `${f} is in the build context`).toBe(true);
        }
      }
      if (s.name !== undefined) names.add(s.name);
    }
    expect(copies).toBeGreaterThan(0);
    expect(inContext('node_modules/xstate/package.json')).toBe(false);
    expect(inContext('test/env/cli.ts')).toBe(false);
    expect(inContext('src/config/config.ts')).toBe(true);
  });

  it('installs production dependencies only, runs as a numeric non-root user, enters the agent', () => {
    const finalOps = final?.instructions ?? [];
    // The final stage takes its files only from the stage `deps`, whose npm ci omits dev and optional
    // dependencies, and runs nothing (the runtime has no shell).
    const copies = finalOps.filter((i) => i.op === 'COPY');
    expect(copies.map((i) => i.args)).toEqual(['--from=deps /rootfs/ /']);
    expect(finalOps.filter((i) => i.op === 'RUN')).toEqual([]);
    const deps = stages.find((s) => s.name === 'deps');
    expect(deps?.instructions.some((i) => i.op === 'RUN' && /npm ci\b.*--omit=dev.*--omit=optional/.test(i.args))).toBe(
      true,
    );
    expect(Object.keys(packageJson.optionalDependencies)).toEqual(['@statelyai/inspect']);
    const user = finalOps.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    const entrypoint = finalOps.find((i) => i.op === 'ENTRYPOINT')?.args ?? '';
    expect(JSON.parse(entrypoint)).toEqual(['/usr/local/bin/clusternet-agent']);
    // deps lays out under /rootfs what the final stage copies to /: the link points at the package's bin.
    const workdir = finalOps.find((i) => i.op === 'WORKDIR')?.args;
    expect(deps?.instructions.find((i) => i.op === 'WORKDIR')?.args).toBe(`/rootfs${String(workdir)}`);
    const link = `ln -s ${String(workdir)}/${packageJson.bin['clusternet-agent']} /rootfs/usr/local/bin/clusternet-agent`;
    expect(deps?.instructions.some((i) => i.op === 'RUN' && i.args.includes(link))).toBe(true);
  });

  it('stamps the commit and build date where src/version.ts reads them, and the OCI labels', () => {
    const finalOps = final?.instructions ?? [];
    const env = finalOps
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    const version = readFileSync(join(root, 'src/version.ts'), 'utf8');
    for (const [variable, arg] of [
      ['CLUSTERNET_AGENT_GIT_COMMIT', 'GIT_COMMIT'],
      ['CLUSTERNET_AGENT_GIT_TREE_STATE', 'GIT_TREE_STATE'],
      ['CLUSTERNET_AGENT_BUILD_DATE', 'BUILD_DATE'],
    ] as const) {
      expect(version).toContain(`env.${variable}`);
      expect(env).toContain(`${variable}=\${${arg}}`);
      expect(finalOps.some((i) => i.op === 'ARG' && i.args.startsWith(arg))).toBe(true);
    }
    const labels = finalOps
      .filter((i) => i.op === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const [label, value] of [
      ['version', '${VERSION}'],
      ['revision', '${GIT_COMMIT}'],
      ['created', '${BUILD_DATE}'],
      ['title', 'clusternet-agent'],
      ['licenses', packageJson.license],
    ])
      expect(labels).toContain(`org.opencontainers.image.${label}="${value}"`);
  });
});

describe("the entry point's V8 flags (ENTRY_V8_FLAGS)", () => {
  const node = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH, ...env } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: unknown) => err as { code: number; stdout: string; stderr: string },
    );
  // client-node's HTTP client (undici) parses HTTP/1 with llhttp compiled to WebAssembly: a flag that turns
  // WebAssembly off (--jitless, --lite-mode, --no-expose-wasm) leaves the agent unable to reach an apiserver.
  const fetchOnce = `
    const server = require('node:http').createServer((_q, r) => r.end('ok')).listen(0, '127.0.0.1', async () => {
      try {
        const r = await require('undici').fetch('http://127.0.0.1:' + server.address().port + '/');
        process.stdout.write(typeof WebAssembly + ' ' + (await r.text()));
      } catch (e) { process.stdout.write(typeof WebAssembly + ' ' + String(e.cause?.message ?? e)); }
      server.close();
    });`;

  it('are none by default; the one measured is a V8 flag Node refuses in NODE_OPTIONS (hence the #! line) and keeps the HTTP client working', async () => {
    // Step 7's --optimize-for-size cost start-up time (docs/memory.md, step 8): a build argument now.
    expect(entryV8Flags).toBe('');
    const flags = ['--optimize-for-size'];
    for (const flag of flags) {
      const refused = await node(['-e', ''], { NODE_OPTIONS: flag });
      expect(refused.stderr).toContain(`${flag} is not allowed in NODE_OPTIONS`);
    }
    expect((await node([...flags, '-e', fetchOnce])).stdout).toBe('object ok');
    // What the test tells apart: V8's lite mode (rejected in step 7) takes WebAssembly away.
    expect((await node(['--lite-mode', '-e', fetchOnce])).stdout).toMatch(/^undefined .*WebAssembly/);
  });
});

describe("the V8 flags the agent sets on itself (the image's CLUSTERNET_AGENT_V8_FLAGS)", () => {
  it('are the heap growing factor, accepted by the agent, and refused by Node in NODE_OPTIONS', async () => {
    const value = envOf(final).get('CLUSTERNET_AGENT_V8_FLAGS');
    expect(value).toBe('--heap-growing-percent=50');
    expect(parseV8Flags(value)).toEqual({ ok: true, flags: ['--heap-growing-percent=50'] });
    const refused = await run(process.execPath, ['-e', ''], {
      env: { PATH: process.env.PATH, NODE_OPTIONS: value },
    }).catch((err: unknown) => err as { stderr: string });
    expect(refused.stderr).toMatch(/--heap-growing-percent=? is not allowed in NODE_OPTIONS/);
  });

  it("are what tests measuring the agent's memory run it with (test/env/dockerfile.ts)", () => {
    expect(imageRuntimeEnv()).toEqual({
      NODE_OPTIONS: '--max-semi-space-size=1 --max-old-space-size-percentage=50',
      CLUSTERNET_AGENT_V8_FLAGS: '--heap-growing-percent=50',
      MALLOC_ARENA_MAX: '2',
    });
  });
});

describe('the production bundle the image holds', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(
    'builds, installs production dependencies only, and prints --version on Node 24',
    { timeout: 300_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'cnat-image-'));
      const app = join(dir, 'app');
      const nodeBin = dirname(process.execPath);
      const env = { PATH: `${nodeBin}:/usr/bin:/bin`, HOME: dir, npm_config_cache: process.env.npm_config_cache };
      // Stage "build": the same tsc command, into the bundle's dist/.
      await run(
        process.execPath,
        [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')],
        { cwd: root },
      );
      // Stage "deps": production dependencies from the lock file (from the local cache: tests stay offline).
      await cp(join(root, 'package.json'), join(app, 'package.json'));
      await cp(join(root, 'package-lock.json'), join(app, 'package-lock.json'));
      await run(
        'npm',
        [
          'ci',
          '--omit=dev',
          '--omit=optional',
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
          '--offline',
          '--loglevel=error',
        ],
        {
          cwd: app,
          env: { ...env, PATH: `${nodeBin}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? dir },
          timeout: 150_000,
        },
      ).catch((err: unknown) => {
        throw new Error(
          `npm ci --omit=dev (offline, from the npm cache) failed: ${String((err as { stderr?: string }).stderr ?? err)}`,
        );
      });
      const installed = await readdir(join(app, 'node_modules'));
      for (const dep of Object.keys(packageJson.dependencies)) expect(installed).toContain(dep.split('/')[0]);
      for (const dev of ['typescript', 'vitest', 'eslint', 'prettier', 'node']) expect(installed).not.toContain(dev);
      // The statechart inspector is optional, left out, and loaded only for --statechart-inspector.
      expect(installed).not.toContain('@statelyai');
      // The final stage: the entry point is a link to the package's bin, whose #! line the deps stage gave
      // the V8 flags.
      const main = join(app, packageJson.bin['clusternet-agent']);
      const source = await readFile(main, 'utf8');
      expect(source.split('\n')[0]).toBe('#!/usr/bin/env node');
      await writeFile(main, `#!/usr/bin/env -S node ${String(entryV8Flags)}${source.slice(source.indexOf('\n'))}`);
      await chmod(main, 0o755);
      const entry = join(dir, 'clusternet-agent');
      await symlink(main, entry);

      const short = await run(entry, ['--version'], { cwd: '/', env });
      expect(short.stdout).toBe(`clusternet-agent version: v${packageJson.version}\n`);
      const json = JSON.parse((await run(entry, ['--version=json'], { cwd: '/', env })).stdout) as {
        goVersion: string;
      };
      expect(json.goVersion).toMatch(/^node24\./);
      // Without flags it stops at validation (the dependencies load) and exits with the usage code.
      const bare = await run(entry, [], { cwd: '/', env }).catch(
        (err: unknown) => err as { code: number; stderr: string },
      );
      expect(bare).toMatchObject({ code: 1 });
      expect((bare as { stderr: string }).stderr).toContain('--cluster-reg-parent-url is required');
    },
  );
});
