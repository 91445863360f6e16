// podman as this machine runs it (docs/image.md): runc (Debian's crun 1.8 refuses the hybrid cgroup
// layout), limits it may not raise spelled out, and, inside the test network namespace, the cgroup
// hierarchies mounted again: `ip netns exec` gives the namespace a fresh /sys without them, and runc
// needs them. They are mounted in a private mount namespace of the podman command alone.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const imageScript = fileURLToPath(new URL('../../env/build/image.sh', import.meta.url));

/** Options every `podman run` here needs. */
export const runOptions = ['--runtime', 'runc', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'] as const;

// Mounts each cgroup hierarchy the process belongs to (from /proc/self/cgroup) when none is mounted.
const withCgroups = `
if ! grep -q ' - cgroup2\\? ' /proc/self/mountinfo; then
  if [ "$(grep -vc '^0::' /proc/self/cgroup)" = 0 ]; then
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
  else
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    while IFS=: read -r _ ctrls _; do
      [ -n "$ctrls" ] || continue
      opts="$ctrls"; case "$ctrls" in name=*) opts="none,$ctrls" ;; esac
      mkdir -p "/sys/fs/cgroup/\${ctrls#name=}"
      mount -t cgroup -o "$opts" cgroup "/sys/fs/cgroup/\${ctrls#name=}"
    done </proc/self/cgroup
  fi
fi
exec podman "$@"`;

const podmanArgv = (args: readonly string[]): string[] => [
  '--mount',
  '--propagation',
  'private',
  'sh',
  '-ec',
  withCgroups,
  'podman',
  ...args,
];

/** Runs podman to completion. */
export async function podman(args: readonly string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  return run('unshare', podmanArgv(args), { timeout: timeoutMs, maxBuffer: 16 << 20 });
}

/** Starts a long-running podman command (e.g. an attached `podman run`). */
export function spawnPodman(args: readonly string[]): ChildProcess {
  return spawn('unshare', podmanArgv(args), { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The reference of the agent's image when it is built from the current sources (test/env/build/image.sh
 * --check); throws, saying how to build it, when it is missing or stale.
 */
export async function currentImage(): Promise<string> {
  const r = await run('bash', [imageScript, '--check'], { timeout: 120_000 }).catch((err: unknown) => {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`the agent image is not built: ${(e.stderr ?? e.message ?? String(err)).trim()}`);
  });
  return r.stdout.trim();
}
