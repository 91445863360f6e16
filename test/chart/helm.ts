// Runs the helm binary the test environment builds (test/env/build/kube-bins.sh) against the chart in
// charts/clusternet-agent. The binary is found where that script caches it; when it is missing the
// tests fail with the command that builds it, never skip.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';

export const chartDir = fileURLToPath(new URL('../../charts/clusternet-agent', import.meta.url));
const versionsFile = fileURLToPath(new URL('../env/versions.json', import.meta.url));

/** The helm binary: `$KUBE_BINS_DIR` or `${XDG_CACHE_HOME:-~/.cache}/clusternet-agent-ts/bins`, as kube-bins.sh. */
export function helmBinary(env: NodeJS.ProcessEnv = process.env): string {
  const version = env.HELM_VERSION ?? (JSON.parse(readFileSync(versionsFile, 'utf8')) as { helm: string }).helm;
  const root =
    env.KUBE_BINS_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'clusternet-agent-ts', 'bins');
  const bin = join(root, `helm-${version}`, 'helm');
  if (!existsSync(bin)) {
    throw new Error(`helm ${version} is not built: ${bin} does not exist. Build it with \`npm run kube-bins\`.`);
  }
  return bin;
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let helmHome: string | undefined;
/** A private HELM_{CONFIG,CACHE,DATA}_HOME for this process: no user or machine helm setup leaks in. */
function helmEnv(): NodeJS.ProcessEnv {
  if (helmHome === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'cnat-helm-'));
    helmHome = dir;
    process.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return {
    PATH: process.env.PATH ?? '',
    HOME: helmHome,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
}

/** Runs helm; never throws on a non-zero exit (the result says). */
export async function helm(args: readonly string[], opts: { readonly timeoutMs?: number } = {}): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(helmBinary(), [...args], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: opts.timeoutMs ?? 60_000,
      env: helmEnv(),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** A rendered object, as plain JSON-like data. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
}

export const ciValues = join(chartDir, 'ci', 'agent-values.yaml');

/** `--set-json key=<json>` for each entry, so values keep their JSON types. */
export function setJson(values: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
}

/** Renders the chart (`helm template`) with the CI values plus `values`; throws with helm's message on failure. */
export async function render(
  values: Readonly<Record<string, unknown>> = {},
  opts: { readonly release?: string; readonly namespace?: string; readonly extra?: readonly string[] } = {},
): Promise<Manifest[]> {
  const r = await helm([
    'template',
    opts.release ?? 'agent',
    chartDir,
    '--namespace',
    opts.namespace ?? 'clusternet-system',
    '-f',
    ciValues,
    ...setJson(values),
    ...(opts.extra ?? []),
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  return parseManifests(r.stdout);
}

export function parseManifests(yaml: string): Manifest[] {
  return (loadAllYaml(yaml) as (Manifest | null | undefined)[]).filter((m): m is Manifest => m != null);
}

export function find(manifests: readonly Manifest[], kind: string, name?: string): Manifest | undefined {
  return manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
}

export function get(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const m = find(manifests, kind, name);
  if (m === undefined) throw new Error(`no ${kind}${name === undefined ? '' : ` ${name}`} rendered`);
  return m;
}

/** The kubelet's `$(VAR)` expansion in container args: defined variables are replaced, `$$` is a literal `$`. */
export function expandKubeletVars(arg: string, env: Readonly<Record<string, string>>): string {
  return arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? whole),
  );
}
