// Runs a command inside a network namespace made for it, so that the test clusters, the agent and the
// tests can reach nothing but each other (only `lo` exists there; any other address fails at once).
// Afterwards every process left in the namespace is killed and the namespace deleted, whatever the
// command's outcome. Needs root and iproute2; otherwise (or with CNAT_NO_NETNS=1) the command runs on
// the host's loopback instead, with a notice.
//
//   node test/env/netns.ts -- <command> [args...]

import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';

/** The namespace's own address on `lo`, used as the apiservers' advertise address. */
export const netnsAddress = '10.255.0.1';
const prefix = 'cnat-';

function ip(args: readonly string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

function canUseNetns(): string | undefined {
  if (process.env.CNAT_NO_NETNS === '1') return 'CNAT_NO_NETNS=1';
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!ip(['-V']).ok) return 'iproute2 (ip) is not installed';
  return undefined;
}

function hasSetpriv(): boolean {
  const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('--pdeathsig');
}

function killAllIn(ns: string): void {
  for (const pid of ip(['netns', 'pids', ns]).out.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Deletes namespaces of earlier runs whose wrapper process is gone. */
function sweepStale(): void {
  for (const line of ip(['netns', 'list']).out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = Number(/^cnat-(\d+)-/.exec(name)?.[1] ?? NaN);
    if (!name.startsWith(prefix) || !Number.isInteger(pid)) continue;
    try {
      process.kill(pid, 0);
    } catch {
      killAllIn(name);
      ip(['netns', 'del', name]);
    }
  }
}

function main(argv: readonly string[]): void {
  const sep = argv.indexOf('--');
  const command = sep === -1 ? [...argv] : argv.slice(sep + 1);
  if (command.length === 0) {
    process.stderr.write('usage: node test/env/netns.ts -- <command> [args...]\n');
    process.exit(2);
  }
  const why = process.env.CNAT_NETNS === undefined ? canUseNetns() : 'already inside one';
  let ns: string | undefined;
  if (why === undefined) {
    sweepStale();
    ns = `${prefix}${String(process.pid)}-${Date.now().toString(36)}`;
    for (const args of [
      ['netns', 'add', ns],
      ['-n', ns, 'link', 'set', 'lo', 'up'],
      ['-n', ns, 'addr', 'add', `${netnsAddress}/32`, 'dev', 'lo'],
    ]) {
      const r = ip(args);
      if (!r.ok) {
        // E.g. root without CAP_SYS_ADMIN in a container: run on the host's loopback instead.
        ip(['netns', 'del', ns]);
        process.stderr.write(`netns: ip ${args.join(' ')} failed (${r.out}); running on the host's loopback\n`);
        ns = undefined;
        break;
      }
    }
    if (ns !== undefined) process.stderr.write(`netns: running in network namespace ${ns} (loopback only)\n`);
  } else if (process.env.CNAT_NETNS === undefined) {
    process.stderr.write(`netns: not using a network namespace (${why}); running on the host's loopback\n`);
  }
  // setpriv --pdeathsig: if this wrapper is killed, the command goes too (and with it everything it runs).
  const wrapped = ns === undefined ? command : ['ip', 'netns', 'exec', ns, ...command];
  const [cmd, ...args] = hasSetpriv() ? ['setpriv', '--pdeathsig', 'SIGTERM', '--', ...wrapped] : wrapped;
  const env = ns === undefined ? process.env : { ...process.env, CNAT_NETNS: ns, CNAT_ADVERTISE_ADDRESS: netnsAddress };
  const child = spawn(cmd ?? '', args, { stdio: 'inherit', env });
  // Pass signals on (a terminal's Ctrl-C reaches the child too; a second SIGINT is harmless), then
  // wait for the child and clean up.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      child.kill(sig);
    });
  }
  const cleanup = (): void => {
    if (ns === undefined) return;
    killAllIn(ns);
    const r = ip(['netns', 'del', ns]);
    if (!r.ok) process.stderr.write(`netns: deleting ${ns} failed: ${r.out}\n`);
  };
  child.on('error', (err) => {
    cleanup();
    process.stderr.write(`netns: cannot run ${cmd ?? ''}: ${err.message}\n`);
    process.exit(127);
  });
  child.on('exit', (code, signal) => {
    cleanup();
    process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
  });
}

main(process.argv.slice(2));
