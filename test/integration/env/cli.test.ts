// `npm run env:up` / `env:status` / `env:down`: a second, independent environment for manual use,
// brought up in the background and torn down without leaving processes or files behind.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, type EnvDescriptor } from '../../env/environment.ts';
import { httpGet } from '../../env/net.ts';

const cli = fileURLToPath(new URL('../../env/cli.ts', import.meta.url));
const cache = mkdtempSync(join(tmpdir(), 'env-cli-test-'));
const run = (cmd: string) =>
  promisify(execFile)(process.execPath, [cli, cmd], {
    env: { ...process.env, CNAT_STATE_DIR: cache },
    timeout: 100_000,
    killSignal: 'SIGTERM',
  });

afterAll(async () => {
  await run('down').catch(() => undefined);
  rmSync(cache, { recursive: true, force: true });
});

describe('environment CLI', () => {
  it('brings the environment up, reports it, and tears it down completely', async () => {
    const up = await run('up');
    const kubeconfigs = [...up.stdout.matchAll(/kubeconfig: (\S+)/g)].map((m) => m[1] ?? '');
    expect(kubeconfigs).toHaveLength(2);
    for (const k of kubeconfigs) expect(existsSync(k)).toBe(true);

    const pointer = JSON.parse(readFileSync(join(cache, 'env-current.json'), 'utf8')) as {
      descriptorPath: string;
    };
    const d = JSON.parse(readFileSync(pointer.descriptorPath, 'utf8')) as EnvDescriptor;
    expect(up.stdout).toContain(d.clusters.child.server);
    const ca = readFileSync(d.clusters.child.caFile);
    expect(await httpGet(`${d.clusters.child.server}/readyz`, { ca })).toEqual({ status: 200, body: 'ok' });

    // A second `up` finds the running environment instead of starting another.
    expect((await run('up')).stdout).toMatch(/^already running/);

    const status = await run('status');
    const rows = status.stdout.split('\n').filter((l) => / running +pid \d+/.test(l));
    expect(rows).toHaveLength(6);
    const pids = rows.map((l) => Number(/pid (\d+)/.exec(l)?.[1]));

    expect((await run('down')).stdout).toBe('environment stopped\n');
    expect(isAlive(d.supervisorPid)).toBe(false);
    for (const pid of pids) expect(isAlive(pid), `component pid ${String(pid)}`).toBe(false);
    expect(existsSync(d.runDir)).toBe(false);
    await expect(httpGet(`${d.clusters.child.server}/readyz`, { ca, timeoutMs: 2000 })).rejects.toThrow();
    expect((await run('down')).stdout).toBe('no environment is running\n');
  });
});

describe('npm run demo (the README quick start)', () => {
  it('brings the clusters up, prepares the parent, runs the agent and tears everything down', async () => {
    const demo = fileURLToPath(new URL('../../env/demo.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [demo], { timeout: 100_000, killSignal: 'SIGTERM' });
    expect(stdout).toMatch(/parent https:\/\/127\.0\.0\.1:\d+ {2}Kubernetes v1\.\d+\.\d+/);
    expect(stdout).toMatch(/bootstrap token [a-z0-9]{6}\.\*{16} /);
    expect(stdout).toMatch(/registration: awaitingApproval\.polling\n/);
    expect(stdout).toMatch(/registration: registered\n/);
    expect(stdout).toContain(
      'Secret clusternet-system/parent-cluster with keys apiserver-advertise-url, ca.crt, namespace, token',
    );
    expect(stdout).toMatch(/ManagedCluster clusternet-[a-z0-9]{5}\/demo-child/);
    expect(stdout).toContain('all processes stopped, run directory removed');
    const runDir = /kubeconfig: (\S+)\/parent\/admin\.kubeconfig/.exec(stdout)?.[1] ?? '';
    expect(runDir).toMatch(/cnat-env-/);
    expect(existsSync(runDir)).toBe(false);
  });
});
