// The agent's image (docker/Dockerfile, built by test/env/build/image.sh during `npm run setup`) run
// as the chart runs it: user 1000, read-only root filesystem, every capability dropped, no privilege
// escalation, emptyDir-like scratch space on /tmp and helm's homes. It registers against the test
// clusters (reached on the network namespace's loopback with `--network host`), serves /readyz over
// HTTPS with its self-signed certificate, and on `podman stop` (SIGTERM to the agent, PID 1) releases
// the Lease and exits 0.

import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../../../package.json' with { type: 'json' };
import { eventually } from '../../env/eventually.ts';
import { freePorts, httpGet } from '../../env/net.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { registrationParent } from '../helpers/parent.ts';
import { currentImage, podman, runOptions, spawnPodman } from './podman.ts';

const env = testEnv();
const parent = registrationParent(env);

let image = '';
let dir = '';
const containers: string[] = [];

beforeAll(async () => {
  image = await currentImage();
  // The kubeconfig, readable by the container's user (the chart mounts the ServiceAccount's instead).
  dir = await mkdtemp(join(tmpdir(), 'cnat-image-'));
  await chmod(dir, 0o755);
  await copyFile(env.adminKubeconfigPath('child'), join(dir, 'kubeconfig'));
  await chmod(join(dir, 'kubeconfig'), 0o644);
}, 150_000);

afterAll(async () => {
  for (const name of containers) await podman(['rm', '--force', '--time', '0', name]).catch(() => undefined);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** `podman run` options matching the chart's securityContext and volumes (charts/.../deployment.yaml). */
const asTheChartRunsIt = [
  '--user',
  '1000:1000',
  '--read-only',
  '--read-only-tmpfs=false',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
  '--tmpfs',
  '/tmp:rw,size=64m,mode=1777',
  '--tmpfs',
  '/var/lib/clusternet-agent/helm:rw,size=512m,mode=1777',
  '--env',
  'HELM_CACHE_HOME=/var/lib/clusternet-agent/helm/cache',
  '--env',
  'HELM_CONFIG_HOME=/var/lib/clusternet-agent/helm/config',
  '--env',
  'HELM_DATA_HOME=/var/lib/clusternet-agent/helm/data',
];

describe('the agent image', () => {
  it('is stamped: --version=json gives the commit and the build date; OCI labels', async () => {
    const { stdout } = await podman(['run', '--rm', ...runOptions, ...asTheChartRunsIt, image, '--version=json']);
    const v = JSON.parse(stdout) as { gitVersion: string; gitCommit: string; buildDate: string; goVersion: string };
    expect(v.gitVersion).toBe(`v${packageJson.version}`);
    expect(v.gitCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(v.buildDate).not.toBe('1970-01-01T00:00:00Z');
    expect(v.buildDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(v.goVersion).toMatch(/^node24\./);
    const labels = JSON.parse(
      (await podman(['image', 'inspect', '--format', '{{json .Labels}}', image])).stdout,
    ) as Record<string, string>;
    expect(labels).toMatchObject({
      'org.opencontainers.image.title': 'clusternet-agent',
      'org.opencontainers.image.version': v.gitVersion,
      'org.opencontainers.image.revision': v.gitCommit,
      'org.opencontainers.image.created': v.buildDate,
    });
    const config = JSON.parse((await podman(['image', 'inspect', '--format', '{{json .Config}}', image])).stdout) as {
      User: string;
      Entrypoint: string[];
    };
    expect(config.User).toBe('1000:1000');
    expect(config.Entrypoint).toEqual(['/usr/local/bin/clusternet-agent']);
  });

  it('holds node, helm and the production dependencies; no shell, npm, package manager or compiler', async () => {
    const node = (script: string) =>
      podman([
        'run',
        '--rm',
        ...runOptions,
        ...asTheChartRunsIt,
        '--entrypoint',
        '/usr/local/bin/node',
        image,
        '-e',
        script,
      ]);
    const paths = [
      '/bin/sh',
      '/bin/bash',
      '/usr/local/bin/npm',
      '/usr/bin/apt-get',
      '/usr/bin/dpkg',
      '/usr/bin/gcc',
      '/usr/bin/cc',
    ];
    const exists = JSON.parse(
      (await node(`console.log(JSON.stringify(${JSON.stringify(paths)}.filter((p) => require('fs').existsSync(p))))`))
        .stdout,
    ) as string[];
    expect(exists).toEqual([]);
    const helm = await podman([
      'run',
      '--rm',
      ...runOptions,
      ...asTheChartRunsIt,
      '--entrypoint',
      '/usr/local/bin/helm',
      image,
      'version',
      '--short',
    ]);
    expect(helm.stdout).toMatch(/^v3\.\d+\.\d+/);
    // Production dependencies only: not the optional statechart inspector, no dev tool.
    const installed = (
      await node("console.log(require('fs').readdirSync('/app/node_modules').join('\\n'))")
    ).stdout.split('\n');
    for (const dep of Object.keys(packageJson.dependencies)) expect(installed).toContain(dep.split('/')[0]);
    for (const dev of ['typescript', 'vitest', 'eslint', 'prettier', 'node', '@statelyai'])
      expect(installed).not.toContain(dev);
  });

  it(
    'registers as the chart runs it, serves /readyz over HTTPS, and releases the Lease on podman stop',
    { timeout: 240_000 },
    async () => {
      const ns = await parent.systemNamespace('img');
      const [port = 0] = await freePorts(1);
      const name = `cnat-agent-${randomBytes(4).toString('hex')}`;
      containers.push(name);
      const startedAt = performance.now();
      const proc = spawnPodman([
        'run',
        '--name',
        name,
        ...runOptions,
        '--network',
        'host',
        ...asTheChartRunsIt,
        '--volume',
        `${join(dir, 'kubeconfig')}:/etc/clusternet-agent/kubeconfig:ro`,
        image,
        `--cluster-reg-parent-url=${env.server('parent')}`,
        `--cluster-reg-token=${parent.token().token}`,
        '--kubeconfig=/etc/clusternet-agent/kubeconfig',
        '--logging-format=json',
        '--leader-elect=true',
        `--leader-elect-resource-namespace=${ns}`,
        // The chart's gates but the tunnel's: these clusters run no hub to hold it (test/integration/tunnel).
        '--feature-gates=SocketConnection=false,AppPusher=true,Recovery=true',
        '--cluster-sync-mode=Dual',
        `--secure-port=${String(port)}`,
      ]);
      let out = '';
      proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => {
        proc.on('exit', (code) => {
          resolve(code);
        });
      });
      const lines = (): { msg?: string; level?: string }[] =>
        out.split('\n').flatMap((l) => {
          try {
            return [JSON.parse(l) as { msg?: string; level?: string }];
          } catch {
            return [];
          }
        });

      const ready = await eventually(
        'the agent in the container ready',
        async () => {
          if (proc.exitCode !== null) throw new Error(`the container exited (${String(proc.exitCode)}):\n${out}`);
          const r = await httpGet(`https://127.0.0.1:${String(port)}/readyz`, { timeoutMs: 2000 }).catch(
            () => undefined,
          );
          return r?.status === 200 ? r : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\ncontainer output:\n${out.slice(-4000)}`);
      });
      const readyMs = performance.now() - startedAt;
      process.stdout.write(`image: container start to /readyz 200: ${readyMs.toFixed(0)} ms\n`);
      expect(ready.status).toBe(200);
      expect(lines().some((l) => l.level === 'error' || l.level === 'fatal')).toBe(false);
      // The agent (PID 1) runs with no V8 flags on its #! line, the image's NODE_OPTIONS and the V8 flags it
      // sets on itself (docs/memory.md).
      const proc1 = await podman([
        'exec',
        name,
        '/usr/local/bin/node',
        '-p',
        "JSON.stringify(['cmdline', 'environ'].map((f) => require('fs').readFileSync('/proc/1/' + f, 'utf8').split('\\0')))",
      ]);
      const [argv = [], environ = []] = JSON.parse(proc1.stdout) as string[][];
      expect(argv.slice(0, 3)).toEqual([
        'node',
        '/usr/local/bin/clusternet-agent',
        `--cluster-reg-parent-url=${env.server('parent')}`,
      ]);
      expect(environ).toContain('NODE_OPTIONS=--max-semi-space-size=1 --max-old-space-size-percentage=50');
      expect(environ).toContain('MALLOC_ARENA_MAX=2');
      expect(environ).toContain('CLUSTERNET_AGENT_V8_FLAGS=--heap-growing-percent=50');

      const leases = env.adminClient('child', CoordinationV1Api);
      const held = await leases.readNamespacedLease({ name: 'clusternet-agent', namespace: ns });
      expect(held.spec?.holderIdentity).toBeTruthy();
      expect(held.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);

      // SIGTERM to PID 1, as the kubelet stops a container; podman would SIGKILL after 30 s.
      await podman(['stop', '--time', '30', name], 60_000);
      expect(await exited).toBe(0);
      expect(lines().some((l) => l.msg === 'released the Lease')).toBe(true);
      const released = await leases.readNamespacedLease({ name: 'clusternet-agent', namespace: ns });
      expect(released.spec?.holderIdentity ?? '').toBe('');
    },
  );
});
