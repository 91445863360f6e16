// The parent + child test environment: two real clusters, started together, described by a JSON file
// (kubeconfigs, servers, control endpoint) that tests and people read, and stopped without leaving
// processes, ports or files behind.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Cluster, type ClusterInfo } from './cluster.ts';
import { eventually } from './eventually.ts';
import { freePorts } from './net.ts';
import type { ProcessStatus } from './process.ts';

export const clusterNames = ['parent', 'child'] as const;
export type ClusterName = (typeof clusterNames)[number];

export interface EnvDescriptor {
  readonly runDir: string;
  readonly kubernetesVersion: string;
  /** Name of the network namespace everything runs in, when it does. */
  readonly netns: string | undefined;
  readonly clusters: Readonly<Record<ClusterName, ClusterInfo>>;
  readonly control: { readonly url: string; readonly token: string };
  readonly supervisorPid: number;
  readonly startupMs: number;
}

export interface BinDirs {
  readonly kubernetes: string;
  readonly helm: string;
}

const envDir = dirname(fileURLToPath(import.meta.url));
export const versions = JSON.parse(await readFile(join(envDir, 'versions.json'), 'utf8')) as {
  kubernetes: string;
  helm: string;
};

/** Builds (first time) or finds (cached) etcd, kube-apiserver, kube-controller-manager and helm. */
export async function resolveBins(): Promise<BinDirs> {
  const { stdout } = await promisify(execFile)('bash', [join(envDir, 'build', 'kube-bins.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: unknown) => {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`building the Kubernetes binaries failed:\n${stderr.split('\n').slice(-30).join('\n')}`);
  });
  return JSON.parse(stdout) as BinDirs;
}

const runDirPrefix = 'cnat-env-';

/** Removes run directories left by supervisors that no longer exist (a crashed earlier run). */
async function sweepStaleRunDirs(): Promise<void> {
  const base = tmpdir();
  for (const entry of await readdir(base)) {
    if (!entry.startsWith(runDirPrefix)) continue;
    const pidFile = join(base, entry, 'supervisor.pid');
    if (!existsSync(pidFile)) {
      // Being created right now by another supervisor (its pid file is written next): leave it.
      const age = Date.now() - (await stat(join(base, entry)).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
      if (age < 60_000) continue;
    }
    const pid = existsSync(pidFile) ? Number(await readFile(pidFile, 'utf8')) : NaN;
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    await rm(join(base, entry), { recursive: true, force: true });
  }
}

/** Whether a process exists and has not exited (an exited, not yet reaped zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export interface StartOptions {
  readonly log?: (line: string) => void;
  /** Keep the run directory (logs, PKI) after `stop()`. */
  readonly keepRunDir?: boolean;
}

export class Environment {
  readonly clusters: Readonly<Record<ClusterName, Cluster>>;
  readonly runDir: string;
  readonly bins: BinDirs;
  readonly netns: string | undefined;
  startupMs = 0;
  readonly #keepRunDir: boolean;

  private constructor(runDir: string, bins: BinDirs, clusters: Record<ClusterName, Cluster>, keep: boolean) {
    this.runDir = runDir;
    this.bins = bins;
    this.clusters = clusters;
    this.netns = process.env.CNAT_NETNS;
    this.#keepRunDir = keep;
  }

  /** Starts both clusters (in parallel) and waits until each is fully usable. */
  static async start(opts: StartOptions = {}): Promise<Environment> {
    const log = opts.log ?? (() => undefined);
    await sweepStaleRunDirs();
    const bins = await resolveBins();
    const t0 = performance.now(); // start-up time, not counting a first build of the binaries
    // mkdtemp: an unpredictable name, created by us (0700), never a directory someone else made first.
    const runDir = await mkdtemp(join(tmpdir(), runDirPrefix));
    await writeFileAtomic(join(runDir, 'supervisor.pid'), String(process.pid));
    const advertiseAddress = process.env.CNAT_ADVERTISE_ADDRESS;
    const clusters = {} as Record<ClusterName, Cluster>;
    for (const name of clusterNames) {
      clusters[name] = new Cluster({
        name,
        dir: join(runDir, name),
        binDir: bins.kubernetes,
        kubernetesVersion: versions.kubernetes,
        ports: await (async () => {
          const [etcdClient = 0, etcdPeer = 0, apiserver = 0, controllerManager = 0] = await freePorts(4);
          return { etcdClient, etcdPeer, apiserver, controllerManager };
        })(),
        ...(advertiseAddress === undefined ? {} : { advertiseAddress }),
      });
    }
    const env = new Environment(runDir, bins, clusters, opts.keepRunDir ?? false);
    // allSettled, not all: when one cluster fails, the other must have finished starting before
    // everything is stopped, or it would go on spawning processes after stop().
    const results = await Promise.allSettled(
      clusterNames.map(async (name) => {
        log(`starting ${name} cluster`);
        await clusters[name].start();
        await waitForDefaultServiceAccount(clusters[name].info.adminKubeconfig);
        log(`${name} cluster ready at ${clusters[name].info.server}`);
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await env.stop();
      throw failed.reason;
    }
    env.startupMs = Math.round(performance.now() - t0);
    return env;
  }

  cluster(name: string): Cluster {
    if (name !== 'parent' && name !== 'child') throw new Error(`unknown cluster ${JSON.stringify(name)}`);
    return this.clusters[name];
  }

  status(): Record<ClusterName, ProcessStatus[]> {
    return { parent: this.clusters.parent.status(), child: this.clusters.child.status() };
  }

  /** Stops everything; removes the run directory unless asked to keep it. */
  async stop(opts: { keepRunDir?: boolean } = {}): Promise<void> {
    await Promise.all(clusterNames.map((n) => this.clusters[n].stop()));
    if (!(opts.keepRunDir ?? this.#keepRunDir)) await rm(this.runDir, { recursive: true, force: true });
  }
}

/** Writes via a temporary file and rename, so a reader never sees a half-written file. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${String(process.pid)}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, path);
}

async function waitForDefaultServiceAccount(kubeconfigPath: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  await eventually(
    'ServiceAccount default/default',
    () => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}
