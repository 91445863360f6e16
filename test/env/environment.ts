// The parent + child test environment: two real clusters, started together, described by a JSON file
// (kubeconfigs, servers, control endpoint) that tests and people read, and stopped without leaving
// processes, ports or files behind.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Cluster, type ClusterInfo } from './cluster.ts';
import { eventually } from './eventually.ts';
import { freePort } from './net.ts';
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
    const pid = existsSync(pidFile) ? Number(await readFile(pidFile, 'utf8')) : NaN;
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    await rm(join(base, entry), { recursive: true, force: true });
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
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
    const runDir = join(tmpdir(), `${runDirPrefix}${String(Date.now())}-${String(process.pid)}`);
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    await writeFile(join(runDir, 'supervisor.pid'), String(process.pid));
    const advertiseAddress = process.env.CNAT_ADVERTISE_ADDRESS;
    const clusters = {} as Record<ClusterName, Cluster>;
    for (const name of clusterNames) {
      clusters[name] = new Cluster({
        name,
        dir: join(runDir, name),
        binDir: bins.kubernetes,
        kubernetesVersion: versions.kubernetes,
        ports: {
          etcdClient: await freePort(),
          etcdPeer: await freePort(),
          apiserver: await freePort(),
          controllerManager: await freePort(),
        },
        ...(advertiseAddress === undefined ? {} : { advertiseAddress }),
      });
    }
    const env = new Environment(runDir, bins, clusters, opts.keepRunDir ?? false);
    try {
      await Promise.all(
        clusterNames.map(async (name) => {
          log(`starting ${name} cluster`);
          await clusters[name].start();
          await waitForDefaultServiceAccount(clusters[name].info.adminKubeconfig);
          log(`${name} cluster ready at ${clusters[name].info.server}`);
        }),
      );
    } catch (err) {
      await env.stop({ keepRunDir: true });
      throw err;
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
