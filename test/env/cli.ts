// The test environment for manual use:
//   npm run env:up       start parent + child clusters in the background, print kubeconfig paths
//   npm run env:status   show components, pids and memory
//   npm run env:down     stop everything and remove the run directory
// The clusters run on the host's loopback (so kubectl and the agent can reach them from any shell).

import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { callControl } from './control.ts';
import { writeFileAtomic, type ClusterName, type EnvDescriptor } from './environment.ts';
import type { ProcessStatus } from './process.ts';
import { startSupervisor } from './supervisor.ts';

// Where the running environment is recorded (CNAT_STATE_DIR lets tests use a private one).
const stateDir =
  process.env.CNAT_STATE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'clusternet-agent-ts');
const pointerFile = join(stateDir, 'env-current.json');
const serveLog = join(stateDir, 'env-supervisor.log');

async function current(): Promise<EnvDescriptor | undefined> {
  if (!existsSync(pointerFile)) return undefined;
  const { descriptorPath } = JSON.parse(await readFile(pointerFile, 'utf8')) as { descriptorPath: string };
  if (!existsSync(descriptorPath)) return undefined;
  const d = JSON.parse(await readFile(descriptorPath, 'utf8')) as EnvDescriptor;
  return isOurSupervisor(d.supervisorPid) ? d : undefined;
}

/** The pid is alive *and* is an environment supervisor (pids get reused after a crash). */
function isOurSupervisor(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8').split('\0');
    return cmdline.some((a) => a.endsWith('test/env/cli.ts')) && cmdline.includes('serve');
  } catch {
    return false;
  }
}

function describe(d: EnvDescriptor): string {
  const lines = [`Kubernetes ${d.kubernetesVersion}, run directory ${d.runDir}`];
  for (const name of ['parent', 'child'] as const) {
    const c = d.clusters[name];
    lines.push(`  ${name.padEnd(6)} ${c.server}  kubeconfig: ${c.adminKubeconfig}`);
  }
  lines.push(`Try: kubectl --kubeconfig ${d.clusters.child.adminKubeconfig} get --raw /version`);
  return lines.join('\n');
}

async function up(): Promise<number> {
  const running = await current();
  if (running !== undefined) {
    process.stdout.write(`already running\n${describe(running)}\n`);
    return 0;
  }
  await mkdir(stateDir, { recursive: true });
  await rm(pointerFile, { force: true });
  const out = openSync(serveLog, 'w');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  process.stdout.write(`starting parent and child clusters (log: ${serveLog})...\n`);
  const deadline = Date.now() + 30 * 60_000; // the first run also builds the binaries
  while (Date.now() < deadline) {
    const d = await current();
    if (d !== undefined) {
      process.stdout.write(`up in ${String(d.startupMs)} ms\n${describe(d)}\n`);
      return 0;
    }
    if (child.exitCode !== null || child.pid === undefined || !isOurSupervisor(child.pid)) {
      process.stderr.write(`env:up failed:\n${(await readFile(serveLog, 'utf8')).split('\n').slice(-40).join('\n')}\n`);
      return 1;
    }
    await sleep(500);
  }
  process.stderr.write(`env:up timed out; see ${serveLog}\n`);
  return 1;
}

async function serve(): Promise<number> {
  const log = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  const sup = await startSupervisor({ log });
  await writeFileAtomic(pointerFile, JSON.stringify({ descriptorPath: sup.descriptorPath }));
  const signalled = new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      process.once(sig, () => {
        resolve();
      });
  });
  await Promise.race([sup.shutdownRequested, signalled]);
  log('shutting down');
  await sup.stop();
  await rm(pointerFile, { force: true });
  return 0;
}

async function down(): Promise<number> {
  const d = await current();
  if (d === undefined) {
    process.stdout.write('no environment is running\n');
    await rm(pointerFile, { force: true });
    return 0;
  }
  await callControl(d.control, 'POST', '/shutdown').catch(() => undefined);
  const deadline = Date.now() + 60_000;
  while (isOurSupervisor(d.supervisorPid) && Date.now() < deadline) await sleep(200);
  if (isOurSupervisor(d.supervisorPid)) process.kill(d.supervisorPid, 'SIGKILL'); // its components die with it
  await rm(pointerFile, { force: true });
  await rm(d.runDir, { recursive: true, force: true });
  process.stdout.write('environment stopped\n');
  return 0;
}

async function status(): Promise<number> {
  const d = await current();
  if (d === undefined) {
    process.stdout.write('no environment is running\n');
    return 1;
  }
  const st = (await callControl(d.control, 'GET', '/status')) as Record<ClusterName, ProcessStatus[]>;
  process.stdout.write(`${describe(d)}\n`);
  for (const s of [...st.parent, ...st.child]) {
    const mib = (kb: number | undefined): string => (kb === undefined ? '-' : `${String(Math.round(kb / 1024))}MiB`);
    process.stdout.write(
      `  ${s.name.padEnd(32)} ${s.state.padEnd(8)} pid ${String(s.pid ?? '-').padEnd(8)} rss ${mib(s.rssKb).padEnd(8)} peak ${mib(s.peakRssKb)}\n`,
    );
  }
  return 0;
}

const commands: Record<string, () => Promise<number>> = { up, down, status, serve };
const run = commands[process.argv[2] ?? ''];
if (run === undefined) {
  process.stderr.write('usage: node test/env/cli.ts up|down|status\n');
  process.exit(2);
}
run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
