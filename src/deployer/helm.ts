// Runs the helm v3 binary for the HelmRelease reconcile (spec §7.4) against the child, with the
// app-deployer identity, storage driver `secret` and a history of 5 releases.
//
// Nothing secret goes on a command line (where /proc shows it): each run gets a private directory
// (mkdtemp, 0700) holding a kubeconfig with the app-deployer token (0600), the values file, and for a
// chartPullSecret a repositories file (or, for oci://, a registry login fed on stdin) with the chart
// repository's credentials; the directory is removed when the run ends, after helm has exited.
//
// A run ends with SIGTERM, never SIGKILL first: when its reconcile is stopped (the leadership term
// ended), or when it overruns its deadline (helmDeadlineMs). helm install/upgrade catch SIGTERM and mark
// the release failed rather than leave it pending; SIGKILL follows only after a grace period
// (helmGraceMs). Those decisions and their timers are the helm run chart's
// (machines/deployer/helm-run.ts); each run here spawns the process and gives the chart its events.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { EMPTY, filter, fromEvent, ignoreElements, map, merge, take, takeWhile, tap, type Observable } from 'rxjs';
import { createActor, fromEventObservable, toPromise, type InspectionEvent } from 'xstate';
import {
  parseRelease,
  type ReleasePlan,
  type StoredRelease,
  type UninstallTarget,
} from '../../machines/deployer/helm-releases.ts';
import {
  helmRunMachine,
  type HelmRunEnd,
  type HelmRunEvent,
  type HelmRunLimits,
} from '../../machines/deployer/helm-run.ts';
import { helmRunDelays, helmRunLimits } from '../../machines/deployer/timing.ts';
import { actorClock } from '../clock.ts';
import type { AppDeployer } from './credentials.ts';

/** Releases kept per name (`--history-max`, spec §7.4 step 2). */
export const historyMax = 5;
/** What helm may print at most (stdout or stderr); beyond, the run is stopped. */
const maxOutputBytes = 64 * 1024 * 1024;
/** Of the agent's environment, what helm gets besides its homes: proxies and the system CA bundle. */
const passedThrough = [
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
  'https_proxy',
  'http_proxy',
  'no_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
] as const;
/** The name the chart repository gets in the private repositories file. */
const repoName = 'helmrelease-repo';

export interface RepoCredentials {
  readonly username: string;
  readonly password: string;
}

export interface HelmOptions {
  /** The helm binary (`--helm-binary`; `helm` looks it up on PATH). */
  readonly binary: string;
  readonly childUrl: string;
  readonly deployer: AppDeployer;
  /** The agent's environment: HELM_CACHE_HOME / HELM_CONFIG_HOME / HELM_DATA_HOME are passed on. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the runs are counted until their process exits (the deployer's drain waits for them). */
  readonly runs: HelmRuns;
  /** Deadline and grace of the long runs, from the timeout (default helmRunLimits.long). */
  readonly limits?: (timeoutSeconds: number) => HelmRunLimits;
  /** Where each run's chart is inspected: the agent's outward stream (the transition log, the inspector). */
  readonly inspect?: (ev: InspectionEvent) => void;
}

/** A failed helm run, with helm's message on one line (for status notes). */
export class HelmError extends Error {
  readonly stderr: string;
  readonly stdout: string;
  constructor(message: string, stderr: string, stdout = '') {
    super(message);
    this.stderr = stderr;
    this.stdout = stdout;
  }
}

/**
 * Why `helm repo update` could not fetch an index: it prints the reason on stdout (after
 * `...Unable to get an update from …`) and only the repository's URL on stderr.
 */
export function repoUpdateReason(stdout: string): string | undefined {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('...Unable to get an update'));
  if (at < 0) return undefined;
  const reason = lines
    .slice(at + 1)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('Update Complete'))
    .join('; ');
  return reason === '' ? undefined : reason;
}

/** helm's stderr as one clear line: `Error: ` prefixes and blank lines dropped, at most 1000 characters. */
export function oneLine(stderr: string): string {
  const text = stderr
    .split('\n')
    .map((l) => l.trim().replace(/^Error: /, ''))
    .filter((l) => l !== '' && !l.startsWith('WARNING: '))
    .join('; ');
  return text.length > 1000 ? `${text.slice(0, 999)}…` : text;
}

/** The chart could not be fetched: repository index, registry login or download (spec §7.4 step 5). */
export class ChartLocateError extends HelmError {}

const workspacePrefix = 'helmrelease-';
const swept = new Map<string, Promise<void>>();

/**
 * Removes, once per process, the run directories an agent killed with SIGKILL (or OOM) left under
 * HELM_CACHE_HOME, the chart's emptyDir, which survives container restarts: each holds a kubeconfig
 * with the app-deployer token. The first run of a process has none of its own yet, and the emptyDir
 * belongs to this pod alone. (The system temporary directory is the container's own and may be shared
 * in development, so it is left alone.)
 */
function sweepLeftWorkspaces(base: string): Promise<void> {
  let sweeping = swept.get(base);
  if (sweeping === undefined) {
    sweeping = readdir(base).then(async (names) => {
      const left = names.filter((n) => n.startsWith(workspacePrefix));
      await Promise.all(left.map((n) => rm(join(base, n), { recursive: true, force: true })));
    });
    swept.set(base, sweeping);
  }
  return sweeping;
}

/** A chart fetched into a run's workspace (Helm.withChart). */
export interface LocatedChart {
  /** `helm show crds` of the archive, for replaceCRDs. */
  crds(): Promise<string>;
  install(): Promise<StoredRelease>;
  upgrade(): Promise<StoredRelease>;
}

interface Workspace {
  readonly dir: string;
  readonly kubeconfig: string;
}

interface RunOptions {
  /** SIGTERM at the deadline, SIGKILL the grace period after it. */
  readonly limits: HelmRunLimits;
  readonly stdin?: string;
  /** The reconcile's: SIGTERM when it aborts; the run then rejects with its reason (after helm exited). */
  readonly signal?: AbortSignal | undefined;
}

/** Limits of a short run. */
const short = (deadlineMs: number, signal: AbortSignal | undefined): RunOptions => ({
  limits: helmRunLimits.short(deadlineMs),
  signal,
});

/**
 * The helm processes of one deployer that have not exited yet (each entry settles when its process
 * has): what its drain waits for when the agent stops, before the root releases the Lease. A stopped
 * reconcile sends its helm SIGTERM, and helm then marks the release failed instead of leaving it
 * pending; exiting at once would take helm down with the container.
 */
export class HelmRuns {
  private readonly live = new Set<Promise<void>>();

  /** Counts a process until `exited` settles. */
  add(exited: Promise<void>): void {
    this.live.add(exited);
    void exited.then(() => this.live.delete(exited));
  }

  /** Resolves once every helm process counted (now or while waiting) has exited. */
  async allExited(): Promise<undefined> {
    while (this.live.size > 0) await Promise.all([...this.live]);
    return undefined;
  }
}

export class Helm {
  private readonly opts: HelmOptions;

  constructor(opts: HelmOptions) {
    this.opts = opts;
  }

  /** The stored release, or undefined when there is none. */
  async status(
    plan: Pick<ReleasePlan, 'releaseName' | 'namespace'>,
    signal?: AbortSignal,
  ): Promise<StoredRelease | undefined> {
    return this.session(async (ws) => {
      try {
        const out = await this.run(
          ws,
          ['status', plan.releaseName, '--namespace', plan.namespace, '--output', 'json'],
          short(60_000, signal),
        );
        return this.release(out, 'helm status');
      } catch (err) {
        if (err instanceof HelmError && err.stderr.includes('release: not found')) return undefined;
        throw err;
      }
    });
  }

  /**
   * Fetches the chart once (`helm pull` into a private workspace, spec §7.4 step 5) and gives `fn` that
   * one archive: its CRDs (replaceCRDs) and the install or upgrade come from the same chart version,
   * even when spec.version is empty and the repository publishes a new one meanwhile. A chart that
   * cannot be fetched (index, registry login, download) is a ChartLocateError.
   */
  async withChart<T>(
    plan: ReleasePlan,
    credentials: RepoCredentials | undefined,
    signal: AbortSignal | undefined,
    fn: (chart: LocatedChart) => Promise<T>,
  ): Promise<T> {
    return this.session(async (ws) => {
      const archive = await this.pull(ws, plan, credentials, signal);
      return fn({
        crds: () => this.run(ws, ['show', 'crds', archive], short(120_000, signal)),
        install: () => this.deploy(ws, 'install', archive, plan, signal),
        upgrade: () => this.deploy(ws, 'upgrade', archive, plan, signal),
      });
    });
  }

  /** install or upgrade from the archive, with the options of each (spec §7.4 steps 8, 9). */
  private async deploy(
    ws: Workspace,
    kind: 'install' | 'upgrade',
    archive: string,
    plan: ReleasePlan,
    signal: AbortSignal | undefined,
  ): Promise<StoredRelease> {
    const own =
      kind === 'install'
        ? [
            ...(plan.createNamespace ? ['--create-namespace'] : []),
            ...(plan.atomic ? ['--atomic'] : []),
            ...(plan.replace ? ['--replace'] : []),
          ]
        : [
            // The release's values are exactly the overrides (not merged with the previous release's).
            '--reset-values',
            '--history-max',
            String(historyMax),
            ...(plan.upgradeAtomic ? ['--atomic'] : []),
            ...(plan.force ? ['--force'] : []),
          ];
    const args = [kind, plan.releaseName, archive, ...(await this.common(ws, plan)), ...own];
    return this.release(await this.run(ws, args, this.long(plan, signal)), `helm ${kind}`);
  }

  /** Uninstalls; a release that is not there counts as uninstalled. */
  async uninstall(plan: UninstallTarget, signal?: AbortSignal): Promise<void> {
    await this.session(async (ws) => {
      await this.run(
        ws,
        [
          'uninstall',
          plan.releaseName,
          '--namespace',
          plan.namespace,
          '--ignore-not-found',
          '--timeout',
          `${String(plan.timeoutSeconds)}s`,
          ...(plan.wait ? ['--wait'] : []),
        ],
        this.long(plan, signal),
      );
    });
  }

  /** Back to the previous revision (a release stuck in pending-upgrade or pending-rollback). */
  async rollback(plan: ReleasePlan, signal?: AbortSignal): Promise<void> {
    await this.session(async (ws) => {
      await this.run(
        ws,
        [
          'rollback',
          plan.releaseName,
          '--namespace',
          plan.namespace,
          '--history-max',
          String(historyMax),
          '--timeout',
          `${String(plan.timeoutSeconds)}s`,
          ...(plan.wait ? ['--wait'] : []),
          ...(plan.waitForJob ? ['--wait-for-jobs'] : []),
        ],
        this.long(plan, signal),
      );
    });
  }

  /** Limits of an install, upgrade, rollback or uninstall: SIGTERM at the deadline, SIGKILL after the grace. */
  private long(plan: Pick<ReleasePlan, 'timeoutSeconds'>, signal: AbortSignal | undefined): RunOptions {
    const limits = this.opts.limits ?? helmRunLimits.long;
    return { limits: limits(plan.timeoutSeconds), signal };
  }

  private release(stdout: string, what: string): StoredRelease {
    let json: unknown;
    try {
      json = JSON.parse(stdout);
    } catch {
      throw new HelmError(`${what} printed no release`, stdout);
    }
    const r = parseRelease(json);
    if (r === undefined) throw new HelmError(`${what} printed no release`, stdout);
    return r;
  }

  /** Flags of install and upgrade: namespace, values, version, timeout, wait and the rest. */
  private async common(ws: Workspace, plan: ReleasePlan): Promise<string[]> {
    const values = join(ws.dir, 'values.json');
    await writeFile(values, JSON.stringify(plan.values), { mode: 0o600 });
    return [
      '--namespace',
      plan.namespace,
      '--values',
      values,
      '--output',
      'json',
      '--timeout',
      `${String(plan.timeoutSeconds)}s`,
      ...(plan.wait ? ['--wait'] : []),
      // helm waits for Jobs whenever it waits: with --wait, and with --atomic, which implies it (as the
      // Go agent's Atomic does); without either the flag does nothing.
      ...(plan.waitForJob ? ['--wait-for-jobs'] : []),
      ...(plan.skipCRDs ? ['--skip-crds'] : []),
      ...(plan.disableHooks ? ['--no-hooks'] : []),
    ];
  }

  /** Which chart: version, the private repository / registry files, TLS verification off (spec). */
  private download(ws: Workspace, plan: ReleasePlan): string[] {
    return [
      '--repository-config',
      join(ws.dir, 'repositories.yaml'),
      '--repository-cache',
      join(ws.dir, 'repository'),
      '--registry-config',
      join(ws.dir, 'registry.json'),
      ...(plan.repo.startsWith('http://') ? [] : ['--insecure-skip-tls-verify']),
      ...(plan.oci && plan.plainHTTP ? ['--plain-http'] : []),
      ...(plan.version === '' ? [] : ['--version', plan.version]),
    ];
  }

  /**
   * The chart archive in the workspace (`helm pull`), or a ChartLocateError naming the repository by its
   * URL (helm names it by its private name).
   */
  private async pull(
    ws: Workspace,
    plan: ReleasePlan,
    credentials: RepoCredentials | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const into = join(ws.dir, 'chart');
    // helm pull writes into --destination, which must exist.
    await mkdir(into, { mode: 0o700 });
    try {
      const ref = await this.locate(ws, plan, credentials, signal);
      await this.run(ws, ['pull', ref, '--destination', into, ...this.download(ws, plan)], short(300_000, signal));
      const archives = (await readdir(into)).filter((f) => f.endsWith('.tgz'));
      if (archives.length !== 1 || archives[0] === undefined) {
        throw new HelmError(`helm pull ${ref} left ${String(archives.length)} chart archives`, '');
      }
      return join(into, archives[0]);
    } catch (err) {
      if (!(err instanceof HelmError)) throw err;
      throw new ChartLocateError(err.message.replaceAll(`${repoName} `, `${plan.repo} `), err.stderr, err.stdout);
    }
  }

  /**
   * The chart reference (spec §7.4 step 5). oci:// → `<repo>/<chart>`, after a registry login when there
   * are credentials (password on stdin). Other repositories → `<name>/<chart>` of a private repositories
   * file (credentials in it), whose index is fetched afresh each time (step 10's "helm repo update").
   */
  private async locate(
    ws: Workspace,
    plan: ReleasePlan,
    credentials: RepoCredentials | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    if (plan.oci) {
      await writeFile(join(ws.dir, 'registry.json'), '{"auths":{}}', { mode: 0o600 });
      if (credentials !== undefined) {
        const host = new URL(plan.repo.replace(/^oci:/, 'https:')).host;
        await this.run(
          ws,
          [
            'registry',
            'login',
            host,
            '--username',
            credentials.username,
            '--password-stdin',
            '--registry-config',
            join(ws.dir, 'registry.json'),
            ...(plan.plainHTTP ? ['--plain-http'] : ['--insecure']),
          ],
          { ...short(60_000, signal), stdin: credentials.password },
        );
      }
      return `${plan.repo}/${plan.chart}`;
    }
    const repositories = {
      apiVersion: '',
      generated: '0001-01-01T00:00:00Z',
      repositories: [
        {
          name: repoName,
          url: plan.repo,
          username: credentials?.username ?? '',
          password: credentials?.password ?? '',
          insecure_skip_tls_verify: true,
          pass_credentials_all: false,
        },
      ],
    };
    await writeFile(join(ws.dir, 'repositories.yaml'), JSON.stringify(repositories), { mode: 0o600 });
    const update = this.run(
      ws,
      [
        'repo',
        'update',
        repoName,
        '--fail-on-repo-update-fail',
        '--repository-config',
        join(ws.dir, 'repositories.yaml'),
        '--repository-cache',
        join(ws.dir, 'repository'),
      ],
      short(120_000, signal),
    );
    await update.catch((err: unknown) => {
      if (!(err instanceof HelmError)) throw err;
      const reason = repoUpdateReason(err.stdout) ?? err.message;
      throw new HelmError(`fetching the index of chart repository ${plan.repo}: ${reason}`, err.stderr, err.stdout);
    });
    return `${repoName}/${plan.chart}`;
  }

  /** A private directory with the app-deployer kubeconfig, removed when `fn` ends. */
  private async session<T>(fn: (ws: Workspace) => Promise<T>): Promise<T> {
    const env = this.opts.env ?? process.env;
    // HELM_CACHE_HOME (the chart's emptyDir) may not exist yet; helm would create it too.
    const base = env.HELM_CACHE_HOME ?? tmpdir();
    await mkdir(base, { recursive: true, mode: 0o700 });
    // The emptyDir outlives the container: what a killed agent left there (tokens) goes first.
    if (env.HELM_CACHE_HOME !== undefined) await sweepLeftWorkspaces(base);
    const dir = await mkdtemp(join(base, workspacePrefix));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      const { childUrl, deployer } = this.opts;
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'child',
            cluster: {
              server: childUrl,
              ...(deployer.caCrt === ''
                ? {}
                : { 'certificate-authority-data': Buffer.from(deployer.caCrt).toString('base64') }),
            },
          },
        ],
        users: [{ name: 'clusternet-app-deployer', user: { token: deployer.token } }],
        contexts: [{ name: 'child', context: { cluster: 'child', user: 'clusternet-app-deployer' } }],
        'current-context': 'child',
      };
      await writeFile(kubeconfig, JSON.stringify(config), { mode: 0o600 });
      return await fn({ dir, kubeconfig });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Runs helm; its stdout, or a HelmError with its stderr on one line. Settles only once helm has exited
   * (its workspace is removed afterwards). When to send SIGTERM and SIGKILL is the helm run chart's
   * (machines/deployer/helm-run.ts); the process's exit, output overflow and the reconcile's abort are its
   * input stream.
   */
  private async run(ws: Workspace, args: readonly string[], opts: RunOptions): Promise<string> {
    const { signal } = opts;
    if (signal?.aborted === true) throw signal.reason as Error;
    const child = spawn(this.opts.binary, [...args, '--kubeconfig', ws.kubeconfig], {
      env: helmEnv(this.opts.env ?? process.env, ws),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((done) => {
      child.once('close', () => {
        done();
      });
    });
    this.opts.runs.add(exited);
    const stdout = new Output();
    const stderr = new Output();
    const run = createActor(
      helmRunMachine.provide({
        actors: {
          process: fromEventObservable<HelmRunEvent, undefined>(() =>
            helmProcessEvents$(child, stdout, stderr, signal),
          ),
        },
        actions: {
          // A process that has exited (its 'close' not yet seen) gets no signal.
          terminate: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          },
          kill: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          },
        },
        delays: helmRunDelays(),
      }),
      {
        input: opts.limits,
        clock: actorClock,
        ...(this.opts.inspect === undefined ? {} : { inspect: this.opts.inspect }),
      },
    );
    run.start();
    // helm may end without reading its stdin (EPIPE): its exit status says how it went.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
    const end = await toPromise(run);
    const what = `helm ${args.slice(0, 2).join(' ')}`;
    const outcome = runOutcome(
      end,
      { what, binary: this.opts.binary, deadlineMs: opts.limits.deadlineMs },
      stdout,
      stderr,
    );
    if (outcome === undefined) throw signal?.reason as Error;
    if (outcome instanceof HelmError) throw outcome;
    return outcome;
  }
}

/**
 * A helm process as the run chart's input stream: `helm.outputExceeded` once stdout or stderr went past
 * the limit, `helm.aborted` when the reconcile's signal aborts, and `helm.exited` (then complete) at its
 * 'close', which comes after the exit (or a failed spawn's 'error') with stdio drained.
 */
function helmProcessEvents$(
  child: ChildProcessByStdio<Writable, Readable, Readable>,
  stdout: Output,
  stderr: Output,
  signal: AbortSignal | undefined,
): Observable<HelmRunEvent> {
  const printed = (stream: Readable, into: Output): Observable<Buffer> =>
    fromEvent(stream, 'data', (chunk: Buffer) => chunk).pipe(takeWhile((chunk) => into.add(chunk), true));
  const overflow$ = merge(
    printed(child.stdout, stdout).pipe(filter(() => stdout.exceeded)),
    printed(child.stderr, stderr).pipe(filter(() => stderr.exceeded)),
  ).pipe(
    take(1),
    map((): HelmRunEvent => ({ type: 'helm.outputExceeded' })),
  );
  const aborted$ =
    signal === undefined
      ? EMPTY
      : fromEvent(signal, 'abort').pipe(
          take(1),
          map((): HelmRunEvent => ({ type: 'helm.aborted' })),
        );
  let spawnError: NodeJS.ErrnoException | undefined;
  const failed$ = fromEvent(child, 'error', (err: NodeJS.ErrnoException) => err).pipe(
    tap((err) => {
      spawnError ??= err;
    }),
    ignoreElements(),
  );
  const closed$ = fromEvent(child, 'close', (code: number | null, exitSignal: NodeJS.Signals | null) => ({
    code,
    exitSignal,
  })).pipe(
    take(1),
    map(({ code, exitSignal }): HelmRunEvent => ({
      type: 'helm.exited',
      code,
      signal: exitSignal,
      ...(spawnError === undefined ? {} : { spawnError: { code: spawnError.code, message: spawnError.message } }),
    })),
  );
  return merge(overflow$, aborted$, failed$, closed$).pipe(takeWhile((e) => e.type !== 'helm.exited', true));
}

/** The environment of a helm run: its own homes in the workspace unless set, and a few variables passed on. */
function helmEnv(env: NodeJS.ProcessEnv, ws: Workspace): NodeJS.ProcessEnv {
  const home = (name: string): string => env[name] ?? join(ws.dir, name.toLowerCase());
  return {
    PATH: env.PATH ?? '',
    HOME: ws.dir,
    KUBECONFIG: ws.kubeconfig,
    HELM_DRIVER: 'secret',
    HELM_CACHE_HOME: home('HELM_CACHE_HOME'),
    HELM_CONFIG_HOME: home('HELM_CONFIG_HOME'),
    HELM_DATA_HOME: home('HELM_DATA_HOME'),
    ...Object.fromEntries(passedThrough.flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]]]))),
  };
}

/** What a run was, for messages. */
interface RunInfo {
  /** `helm <command> <subcommand>`. */
  readonly what: string;
  readonly binary: string;
  readonly deadlineMs: number;
}

/**
 * The result of a helm run (its stdout) or its HelmError, from how it ended (the run chart's output);
 * undefined when it was stopped because its reconcile was (the caller rejects with the abort's reason).
 */
export function runOutcome(
  end: HelmRunEnd,
  run: RunInfo,
  stdout: { text(): string },
  stderr: { text(): string },
): string | HelmError | undefined {
  const { what } = run;
  const { exit } = end;
  const out = stdout.text();
  const err = stderr.text();
  if (exit.spawnError?.code === 'ENOENT') {
    return new HelmError(`the helm binary ${run.binary} was not found (--helm-binary)`, '');
  }
  if (end.stopped === 'aborted') return undefined;
  if (end.stopped === 'deadline') {
    const how = end.killed ? 'was killed (SIGKILL)' : 'was stopped (SIGTERM)';
    const said = oneLine(err);
    const detail = said === '' ? '' : `: ${said}`;
    return new HelmError(`${what} did not end within ${String(run.deadlineMs / 1000)}s and ${how}${detail}`, err, out);
  }
  if (end.stopped === 'output') {
    return new HelmError(`${what} printed more than ${String(maxOutputBytes)} bytes and was stopped`, err, out);
  }
  if (exit.spawnError !== undefined) return new HelmError(`${what} failed: ${exit.spawnError.message}`, err, out);
  if (exit.code === 0) return out;
  const status = exit.code === null ? `signal ${String(exit.signal)}` : `exit status ${String(exit.code)}`;
  return new HelmError(oneLine(err) || `${what} failed (${status})`, err, out);
}

/** What a helm run printed on one stream, up to maxOutputBytes. */
class Output {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  /** The stream printed more than maxOutputBytes. */
  get exceeded(): boolean {
    return this.size > maxOutputBytes;
  }

  /** False once the stream printed too much (the rest is dropped). */
  add(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.exceeded) return false;
    this.chunks.push(chunk);
    return true;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
