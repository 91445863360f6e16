// The helm runner against a stand-in helm (a shell script that records how it was called): the flags
// of every HelmRelease option, nothing secret on a command line, the private directory's modes and
// removal, the password of an oci login on stdin, the kill of an overrunning run, one-line errors.
// The real binary against real clusters: test/integration/deployer/helm.test.ts.

import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { decodeHelmRelease, type HelmReleaseSpec, type ReleasePlan } from '../../../machines/deployer/helm-releases.ts';
import {
  ChartLocateError,
  Helm,
  HelmError,
  HelmRuns,
  oneLine,
  repoUpdateReason,
  type RepoCredentials,
} from '../../../src/deployer/helm.ts';
import { transitionRecorder } from '../../../src/logging/transitions.ts';

const token = 'eyJhbGciOiJSUzI1NiJ9.secret-token.sig';
const password = 'repo-password-123';
const release = {
  name: 'web',
  namespace: 'apps',
  version: 1,
  info: { status: 'deployed', first_deployed: '2026-11-24T06:50:27Z', last_deployed: '2026-11-24T06:50:27Z' },
  chart: { metadata: { name: 'hello', version: '0.1.0' } },
  config: { greeting: 'hi' },
};

let dir: string;
let log: string;
let homes: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnat-fake-helm-'));
  log = join(dir, 'calls.log');
  // Not there yet, as in a fresh emptyDir: the runner creates it.
  homes = join(dir, 'helm-homes', 'cache');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in helm: records each call (args, modes, env, private files, stdin), then runs `behaviour`. */
async function fakeHelm(behaviour: string): Promise<string> {
  const bin = join(dir, 'helm');
  await writeFile(
    bin,
    `#!/bin/sh
work="$(dirname "$KUBECONFIG")"
{
  echo "CALL $*"
  echo "MODES $(stat -c %a "$work") $(stat -c %a "$KUBECONFIG")"
  echo "ENV $HELM_DRIVER $HELM_CACHE_HOME"
  echo "PASSED $HTTPS_PROXY|$REG_TOKEN"
  echo "KUBECONFIG $(cat "$KUBECONFIG")"
  [ -f "$work/repositories.yaml" ] && echo "REPOS $(cat "$work/repositories.yaml")"
  [ -f "$work/values.json" ] && echo "VALUES $(cat "$work/values.json")"
  [ "$1" = registry ] && echo "STDIN $(cat)"
  echo "WORK $work"
} >> '${log}'
${behaviour}
`,
  );
  await chmod(bin, 0o755);
  return bin;
}

/** `helm pull`: the chart archive appears in --destination. */
const pullOk = `if [ "$1" = pull ]; then
  while [ $# -gt 0 ]; do [ "$1" = --destination ] && dest="$2"; shift; done
  [ -d "$dest" ] || { echo "Error: $dest: no such file or directory" >&2; exit 1; }
  : > "$dest/hello-0.1.0.tgz"; exit 0
fi`;
const ok = `${pullOk}
case "$1" in install|upgrade) echo '${JSON.stringify(release)}';; esac; exit 0`;

/** An install or upgrade as the reconcile runs it: the chart fetched once, then helm from that archive. */
const install = (helm: Helm, p: ReleasePlan, creds?: RepoCredentials, signal?: AbortSignal) =>
  helm.withChart(p, creds, signal, (chart) => chart.install());
const upgrade = (helm: Helm, p: ReleasePlan, creds?: RepoCredentials) =>
  helm.withChart(p, creds, undefined, (chart) => chart.upgrade());

/** Whether every helm run counted in `runs` exited within `ms`. */
const runsEnded = (runs: HelmRuns, ms: number): Promise<boolean> =>
  Promise.race([
    runs.allExited().then(() => true),
    new Promise<boolean>((resolve) => {
      setTimeout(() => {
        resolve(false);
      }, ms);
    }),
  ]);

const helmWith = (
  binary: string,
  limits?: { deadlineMs: number; graceMs: number },
  runs = new HelmRuns(),
  inspect?: (ev: InspectionEvent) => void,
): Helm =>
  new Helm({
    ...(inspect === undefined ? {} : { inspect }),
    binary,
    runs,
    childUrl: 'https://127.0.0.1:6443',
    deployer: { token, caCrt: '-----BEGIN CERTIFICATE-----\n', serviceAccountName: 'x', serviceAccountUid: 'u' },
    env: { PATH: process.env.PATH ?? '', HELM_CACHE_HOME: homes, HTTPS_PROXY: 'http://proxy:3128', REG_TOKEN: 'x' },
    ...(limits === undefined ? {} : { limits: () => limits }),
  });

const plan = (spec: HelmReleaseSpec): ReleasePlan => {
  const d = decodeHelmRelease(
    {
      metadata: { name: 'web-helm-default-hello', namespace: 'clusternet-x' },
      spec: { chart: 'hello', targetNamespace: 'apps', releaseName: 'web', ...spec },
    },
    (s) => Buffer.from(s, 'base64').toString('utf8'),
  );
  if (!d.ok) throw new Error(d.error);
  return d.plan;
};

const calls = async (): Promise<string[]> =>
  (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('CALL '));
const lines = async (prefix: string): Promise<string[]> =>
  (await readFile(log, 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith(`${prefix} `))
    .map((l) => l.slice(prefix.length + 1));

describe('Helm (the runner of the helm binary)', () => {
  it('installs: repository index, chart download, then install with the install options; secrets only in 0600 files', async () => {
    const helm = helmWith(await fakeHelm(ok));
    const r = await install(
      helm,
      plan({
        repo: 'http://127.0.0.1:8080/charts',
        version: '0.1.0',
        overrides: Buffer.from('{"greeting":"hi"}').toString('base64'),
        atomic: true,
        replace: true,
        timeoutSeconds: 60,
      }),
      { username: 'u', password },
    );
    expect(r).toMatchObject({ name: 'web', version: 1, status: 'deployed', values: { greeting: 'hi' } });
    const [update, pull, installed] = await calls();
    expect(update).toMatch(/^CALL repo update helmrelease-repo --fail-on-repo-update-fail --repository-config \S+/);
    expect(pull).toMatch(/^CALL pull helmrelease-repo\/hello --destination \S+\/chart --repository-config \S+/);
    expect(pull).toContain('--version 0.1.0');
    expect(pull).not.toContain('--insecure-skip-tls-verify');
    expect(installed).toMatch(
      /^CALL install web \S+\/chart\/hello-0.1.0.tgz --namespace apps --values \S+\/values.json /,
    );
    for (const flag of ['--output json', '--timeout 60s', '--create-namespace', '--atomic', '--replace']) {
      expect(installed).toContain(flag);
    }
    for (const flag of ['--wait', '--skip-crds', '--no-hooks', '--version', '--repository-config', '--history-max']) {
      expect(installed).not.toContain(flag);
    }
    // Nothing secret on a command line; the token in the kubeconfig, the password in the repositories file.
    for (const c of await calls()) {
      expect(c).not.toContain(token);
      expect(c).not.toContain(password);
    }
    expect((await lines('KUBECONFIG'))[0]).toContain(token);
    const repos = JSON.parse((await lines('REPOS'))[0] ?? '') as { repositories: Record<string, unknown>[] };
    expect(repos.repositories).toEqual([
      {
        name: 'helmrelease-repo',
        url: 'http://127.0.0.1:8080/charts',
        username: 'u',
        password,
        insecure_skip_tls_verify: true,
        pass_credentials_all: false,
      },
    ]);
    expect(await lines('VALUES')).toContain('{"greeting":"hi"}');
    expect(new Set(await lines('MODES'))).toEqual(new Set(['700 600']));
    expect(new Set(await lines('ENV'))).toEqual(new Set([`secret ${homes}`]));
    // Proxies reach helm; the rest of the agent's environment does not.
    expect(new Set(await lines('PASSED'))).toEqual(new Set(['http://proxy:3128|']));
    // The private directory is gone afterwards.
    expect(await readdir(homes)).toEqual([]);
  });

  it('upgrades with the values reset to the overrides, a history of 5 and the upgrade options', async () => {
    const helm = helmWith(await fakeHelm(ok));
    await upgrade(
      helm,
      plan({
        repo: 'https://charts.test/stable',
        upgradeAtomic: true,
        force: true,
        wait: true,
        waitForJob: true,
        skipCRDs: true,
        disableHooks: true,
        atomic: false,
      }),
      undefined,
    );
    const [, pull = '', upgraded = ''] = await calls();
    expect(pull).toContain('--insecure-skip-tls-verify');
    expect(pull).not.toContain('--version');
    for (const flag of [
      '--reset-values',
      '--history-max 5',
      '--atomic',
      '--force',
      '--wait',
      '--wait-for-jobs',
      '--skip-crds',
      '--no-hooks',
      '--timeout 300s',
    ]) {
      expect(upgraded).toContain(flag);
    }
    expect(upgraded).toMatch(/^CALL upgrade web \S+\/chart\/hello-0.1.0.tgz /);
    expect(upgraded).not.toContain('--version');
    expect(upgraded).not.toContain('--create-namespace');
  });

  // atomic implies wait (helm's and the Go agent's Atomic), and helm then waits for Jobs too.
  it.each<[string, HelmReleaseSpec, 'install' | 'upgrade']>([
    ['install, atomic without wait', { atomic: true, waitForJob: true }, 'install'],
    ['upgrade, upgradeAtomic without wait', { upgradeAtomic: true, waitForJob: true }, 'upgrade'],
  ])('waits for Jobs on %s', async (_, spec, kind) => {
    const helm = helmWith(await fakeHelm(ok));
    const p = plan({ repo: 'http://h/c', ...spec });
    await (kind === 'install' ? install(helm, p) : upgrade(helm, p));
    const run = (await calls()).find((c) => c.startsWith(`CALL ${kind} `)) ?? '';
    expect(run).toContain('--atomic');
    expect(run).toContain('--wait-for-jobs');
    expect(run).not.toMatch(/--wait(?!-)/);
  });

  it('addresses oci charts as <repo>/<chart>, logging in with the password on stdin', async () => {
    const helm = helmWith(await fakeHelm(ok));
    await install(helm, plan({ repo: 'oci://127.0.0.1:5000/charts', plainHTTP: true, version: '1.0.0' }), {
      username: 'u',
      password,
    });
    const [login, pull, installed] = await calls();
    expect(login).toMatch(
      /^CALL registry login 127.0.0.1:5000 --username u --password-stdin --registry-config \S+ --plain-http/,
    );
    expect(await lines('STDIN')).toEqual([password]);
    expect(pull).toMatch(/^CALL pull oci:\/\/127.0.0.1:5000\/charts\/hello --destination /);
    expect(pull).toContain('--plain-http');
    expect(pull).toContain('--registry-config');
    expect(pull).toContain('--version 1.0.0');
    expect(installed).toMatch(/^CALL install web \S+\/chart\/hello-0.1.0.tgz /);
    for (const c of await calls()) expect(c).not.toContain(password);
  });

  it('survives a helm that ends without reading its stdin (no EPIPE crash)', async () => {
    const bin = join(dir, 'helm-deaf');
    await writeFile(bin, `#!/bin/sh\n${pullOk}\n[ "$1" = install ] && echo '${JSON.stringify(release)}'\nexit 0\n`);
    await chmod(bin, 0o755);
    const big = 'p'.repeat(4 * 1024 * 1024);
    const r = await install(helmWith(bin), plan({ repo: 'oci://127.0.0.1:5000/charts' }), {
      username: 'u',
      password: big,
    });
    expect(r.name).toBe('web');
    // Give a late pipe error the chance to surface as an uncaught exception (vitest fails the run then).
    await new Promise((resolve) => setTimeout(resolve, 100));
  });

  it('reads the stored release, and no release as undefined', async () => {
    const found = helmWith(await fakeHelm(`echo '${JSON.stringify(release)}'`));
    expect((await found.status(plan({ repo: 'http://h/c' })))?.chartVersion).toBe('0.1.0');
    const missing = helmWith(await fakeHelm(`echo 'Error: release: not found' >&2; exit 1`));
    expect(await missing.status(plan({ repo: 'http://h/c' }))).toBeUndefined();
    expect((await calls()).at(-1)).toMatch(/^CALL status web --namespace apps --output json --kubeconfig /);
  });

  it('uninstalls with the timeout, --wait when asked, a missing release counting as gone', async () => {
    const helm = helmWith(await fakeHelm(ok));
    await helm.uninstall(plan({ repo: 'http://h/c', wait: true, timeoutSeconds: 45 }));
    expect((await calls())[0]).toMatch(/^CALL uninstall web --namespace apps --ignore-not-found --timeout 45s --wait /);
  });

  it('rolls a stuck release back to its previous revision with the history limit and the timeout', async () => {
    const helm = helmWith(await fakeHelm(ok));
    await helm.rollback(plan({ repo: 'http://h/c', wait: true, timeoutSeconds: 45 }));
    expect((await calls())[0]).toMatch(
      /^CALL rollback web --namespace apps --history-max 5 --timeout 45s --wait --kubeconfig /,
    );
  });

  // A helm that, like helm install/upgrade, turns SIGTERM into a failed release: it takes a moment to
  // write it, then exits. `sleep` runs in the background so the shell handles the signal at once.
  const failsOnTerm = (pause: string): string =>
    `${pullOk}
trap 'kill $! 2>/dev/null; sleep ${pause}; echo "EXITED" >> "${log}"; echo "Error: release web failed: context canceled" >&2; exit 1' TERM
echo "TRAPPED" >> "${log}"
sleep 30 >/dev/null 2>&1 &
wait $!`;

  it('stops a run that overruns its deadline with SIGTERM, and lets helm fail the release itself', async () => {
    const bin = await fakeHelm(failsOnTerm('0.2'));
    const helm = helmWith(bin, { deadlineMs: 1_000, graceMs: 5_000 });
    const started = Date.now();
    await expect(install(helm, plan({ repo: 'oci://h/c', timeoutSeconds: 1 }))).rejects.toThrow(
      'helm install web did not end within 1s and was stopped (SIGTERM): release web failed: context canceled',
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    expect((await readFile(log, 'utf8')).split('\n')).toContain('EXITED');
    expect(await readdir(homes)).toEqual([]);
  });

  it('kills a run that ignores SIGTERM after the grace period', async () => {
    const helm = helmWith(await fakeHelm(`trap '' TERM\nexec sleep 30`), { deadlineMs: 200, graceMs: 300 });
    const started = Date.now();
    await expect(helm.uninstall(plan({ repo: 'http://h/c', timeoutSeconds: 1 }))).rejects.toThrow(
      /helm uninstall web did not end within 0.2s and was killed \(SIGKILL\)/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await readdir(homes)).toEqual([]);
  });

  it('shows each run as its chart on the inspection stream it is given (the transition log, the inspector)', async () => {
    const seen: string[] = [];
    const inspect = transitionRecorder((t) => seen.push(`${t.machine}: ${t.from} → ${t.to}`));
    const helm = helmWith(
      await fakeHelm(`trap '' TERM\nexec sleep 30`),
      { deadlineMs: 200, graceMs: 300 },
      undefined,
      inspect,
    );
    await expect(helm.uninstall(plan({ repo: 'http://h/c', timeoutSeconds: 1 }))).rejects.toThrow(/killed/);
    expect(seen).toEqual([
      'helmRun:  → alive.running',
      'helmRun: alive.running → alive.terminating',
      'helmRun: alive.terminating → alive.killing',
      'helmRun: alive.killing → exited',
    ]);
  });

  it('stops helm when the reconcile is stopped, and settles only after helm exited and its directory is gone', async () => {
    const helm = helmWith(await fakeHelm(failsOnTerm('0.3')));
    const stop = new AbortController();
    const run = install(helm, plan({ repo: 'oci://h/c' }), undefined, stop.signal);
    // helm is running (and handles SIGTERM) before the term ends.
    for (let i = 0; i < 100 && !(await readFile(log, 'utf8').catch(() => '')).includes('TRAPPED'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    stop.abort(new Error('term over'));
    await expect(run).rejects.toThrow('term over');
    // By then helm had finished its own cleanup, and the workspace with the token was removed.
    expect((await readFile(log, 'utf8')).split('\n')).toContain('EXITED');
    expect(await readdir(homes)).toEqual([]);
  });

  it('lets the process wait for helm runs to exit before it exits itself', async () => {
    const runs = new HelmRuns();
    expect(await runsEnded(runs, 10)).toBe(true); // none running
    const helm = helmWith(await fakeHelm(failsOnTerm('0.3')), undefined, runs);
    const stop = new AbortController();
    const run = install(helm, plan({ repo: 'oci://h/c' }), undefined, stop.signal);
    for (let i = 0; i < 100 && !(await readFile(log, 'utf8').catch(() => '')).includes('TRAPPED'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await runsEnded(runs, 50)).toBe(false); // helm is still at work
    stop.abort(new Error('term over'));
    expect(await runsEnded(runs, 5_000)).toBe(true); // helm handled SIGTERM and exited
    expect((await readFile(log, 'utf8')).split('\n')).toContain('EXITED');
    await expect(run).rejects.toThrow('term over');
  });

  it('does not start helm at all for a reconcile already stopped', async () => {
    const helm = helmWith(await fakeHelm(ok));
    const stop = new AbortController();
    stop.abort(new Error('term over'));
    await expect(helm.status(plan({ repo: 'http://h/c' }), stop.signal)).rejects.toThrow('term over');
    expect(await readFile(log, 'utf8').catch(() => '')).toBe('');
  });

  it('turns a chart it cannot fetch into one clear line naming the repository by its URL', async () => {
    const helm = helmWith(
      await fakeHelm(
        `[ "$1" = pull ] && { echo 'Error: chart "nope" matching 1.0.0 not found in helmrelease-repo index.' >&2; echo '' >&2; echo 'more' >&2; exit 1; }; exit 0`,
      ),
    );
    const err = await install(helm, plan({ repo: 'http://127.0.0.1:1/c', chart: 'nope' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChartLocateError);
    expect((err as Error).message).toBe('chart "nope" matching 1.0.0 not found in http://127.0.0.1:1/c index.; more');
  });

  it('keeps an install error an install error (not a chart that cannot be located)', async () => {
    const helm = helmWith(
      await fakeHelm(
        `${pullOk}\n[ "$1" = install ] && { echo 'Error: INSTALLATION FAILED: boom' >&2; exit 1; }; exit 0`,
      ),
    );
    const err = await install(helm, plan({ repo: 'http://h/c' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelmError);
    expect(err).not.toBeInstanceOf(ChartLocateError);
    expect((err as Error).message).toBe('INSTALLATION FAILED: boom');
  });

  it('reads the CRDs and installs from the one archive it fetched (replaceCRDs, an empty version)', async () => {
    const helm = helmWith(await fakeHelm(ok));
    await helm.withChart(plan({ repo: 'http://h/c', replaceCRDs: true }), undefined, undefined, async (chart) => {
      await chart.crds();
      return chart.install();
    });
    const all = await calls();
    expect(all.filter((c) => c.startsWith('CALL pull '))).toHaveLength(1);
    const archive = /CALL show crds (\S+\.tgz) /.exec(all[2] ?? '')?.[1];
    expect(archive).toMatch(/\/chart\/hello-0.1.0.tgz$/);
    expect(all[3]).toContain(`CALL install web ${archive ?? ''} `);
    expect(all).toHaveLength(4);
  });

  it('says why a repository index could not be fetched', async () => {
    const helm = helmWith(
      await fakeHelm(
        `[ "$1" = repo ] && { echo '...Unable to get an update from the "helmrelease-repo" chart repository (http://h/c):'; printf '\\tfailed to fetch http://h/c/index.yaml : 401 Unauthorized\\n'; echo 'Error: Failed to update the following repositories: [http://h/c]' >&2; exit 1; }; exit 0`,
      ),
    );
    const err = await install(helm, plan({ repo: 'http://h/c' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChartLocateError);
    expect((err as Error).message).toBe(
      'fetching the index of chart repository http://h/c: failed to fetch http://h/c/index.yaml : 401 Unauthorized',
    );
  });

  it('removes the run directories a killed agent left in HELM_CACHE_HOME, once, before its first run', async () => {
    await mkdir(join(homes, 'helmrelease-AbC123'), { recursive: true });
    await writeFile(join(homes, 'helmrelease-AbC123', 'kubeconfig'), token);
    await mkdir(join(homes, 'repository'));
    const helm = helmWith(
      await fakeHelm(
        `[ "$1" = status ] && mkdir "$HELM_CACHE_HOME/helmrelease-running"; echo '${JSON.stringify(release)}'`,
      ),
    );
    await helm.status(plan({ repo: 'http://h/c' }));
    // helm's own cache stays; what this process makes afterwards is not swept again.
    expect((await readdir(homes)).sort()).toEqual(['helmrelease-running', 'repository']);
    await helm.status(plan({ repo: 'http://h/c' }));
    expect((await readdir(homes)).sort()).toEqual(['helmrelease-running', 'repository']);
  });

  it('reports a missing binary clearly', async () => {
    await expect(helmWith(join(dir, 'no-such-helm')).status(plan({ repo: 'http://h/c' }))).rejects.toThrow(
      /the helm binary .*no-such-helm was not found \(--helm-binary\)/,
    );
  });
});

describe('helm output', () => {
  it('keeps the message lines of stderr, without prefixes, warnings or blank lines', () => {
    expect(oneLine('WARNING: kubeconfig is group-readable\nError: UPGRADE FAILED: boom\n\n  detail  \n')).toBe(
      'UPGRADE FAILED: boom; detail',
    );
    expect(oneLine('x'.repeat(2000))).toHaveLength(1000);
  });

  it('finds the reason of a failed repository update on stdout', () => {
    const out =
      'Hang tight while we grab the latest from your chart repositories...\n...Unable to get an update from the "r" chart repository (http://h):\n\tGet "http://h/index.yaml": connection refused\nUpdate Complete. ⎈Happy Helming!⎈\n';
    expect(repoUpdateReason(out)).toBe('Get "http://h/index.yaml": connection refused');
    expect(repoUpdateReason('Hang tight\n')).toBeUndefined();
  });
});
