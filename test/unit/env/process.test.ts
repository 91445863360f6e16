import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { eventually } from '../../env/eventually.ts';
import { ManagedProcess, readProcMemory } from '../../env/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'process-test-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const procState = (pid: number): string =>
  /^State:\s+(\S)/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'))?.[1] ?? '?';

/** A node process that writes its pid to `<name>.ready` after a short delay and logs SIGTERM before exiting. */
function nodeServer(name: string, script = '', readyTimeoutMs = 10_000): ManagedProcess {
  const readyFile = join(dir, `${name}.ready`);
  const proc: ManagedProcess = new ManagedProcess({
    name,
    command: process.execPath,
    args: [
      '-e',
      script ||
        `process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); });
         setTimeout(() => require('fs').writeFileSync(${JSON.stringify(readyFile)}, String(process.pid)), 100);
         setInterval(() => {}, 1000);`,
    ],
    logFile: join(dir, `${name}.log`),
    // Ready only once *this* incarnation wrote its pid (a restart must not see the previous one's file).
    ready: () => Promise.resolve(existsSync(readyFile) && readFileSync(readyFile, 'utf8') === String(proc.pid)),
    readyTimeoutMs,
    stopGraceMs: 2000,
  });
  return proc;
}

const started: ManagedProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill()));
});

// Node start-up plus a 2 s stop grace must fit comfortably on a loaded 2-core machine.
describe('ManagedProcess', { timeout: 20_000 }, () => {
  it('starts, waits for readiness and stops gracefully with SIGTERM', async () => {
    const p = nodeServer('graceful');
    started.push(p);
    expect(p.state).toBe('stopped');
    await p.start();
    expect(p.state).toBe('running');
    const pid = p.pid ?? -1;
    expect(alive(pid)).toBe(true);
    await p.stop();
    expect(p.state).toBe('stopped');
    expect(alive(pid)).toBe(false);
    expect(p.logTail()).toContain('got SIGTERM');
  });

  it('escalates to SIGKILL when the process ignores SIGTERM', async () => {
    const ready = join(dir, 'stubborn.ready');
    const p = nodeServer(
      'stubborn',
      `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(ready)}, String(process.pid)); setInterval(() => {}, 1000);`,
    );
    started.push(p);
    await p.start();
    const t0 = Date.now();
    await p.stop();
    expect(p.state).toBe('stopped');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
  });

  it('pauses (SIGSTOP) and resumes (SIGCONT)', async () => {
    const p = nodeServer('pausable');
    started.push(p);
    await p.start();
    const pid = p.pid ?? -1;
    p.pause();
    expect(p.state).toBe('paused');
    await eventually('the process to stop', () => Promise.resolve(procState(pid) === 'T' ? true : undefined));
    p.resume();
    expect(p.state).toBe('running');
    await eventually('the process to continue', () => Promise.resolve(procState(pid) !== 'T' ? true : undefined));
  });

  it('stops a paused process', async () => {
    const p = nodeServer('paused-stop');
    started.push(p);
    await p.start();
    p.pause();
    await p.stop();
    expect(p.state).toBe('stopped');
    expect(p.logTail()).toContain('got SIGTERM');
  });

  it('kills with SIGKILL and restarts with a new pid', async () => {
    const p = nodeServer('restartable');
    started.push(p);
    await p.start();
    const first = p.pid ?? -1;
    await p.kill();
    expect(p.state).toBe('stopped');
    expect(alive(first)).toBe(false);
    expect(p.logTail()).not.toContain('got SIGTERM');
    await p.restart();
    expect(p.state).toBe('running');
    expect(p.pid).not.toBe(first);
    expect(p.status().restarts).toBe(1);
    expect(p.status().rssKb).toBeGreaterThan(1000);
  });

  it('reports a process that dies during start-up with its log', async () => {
    const p = new ManagedProcess({
      name: 'crasher',
      command: process.execPath,
      args: ['-e', 'console.error("bad flag --foo"); process.exit(3)'],
      logFile: join(dir, 'crasher.log'),
      ready: () => Promise.resolve(false),
    });
    await expect(p.start()).rejects.toThrow(/crasher exited during start-up \(exit code 3\)[\s\S]*bad flag --foo/);
    expect(p.state).toBe('stopped');
  });

  it('gives up on a process that never becomes ready, and kills it', async () => {
    const p = nodeServer('never-ready', 'setInterval(() => {}, 1000);', 1500);
    await expect(p.start()).rejects.toThrow(/never-ready was not ready within 1500 ms/);
    expect(p.state).toBe('stopped');
  });

  it('takes its components down when the supervising process is killed with SIGKILL', async () => {
    const fixture = fileURLToPath(new URL('fixtures/supervise-sleep.ts', import.meta.url));
    const supervisor = spawn(process.execPath, [fixture, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let childPid = -1;
    onTestFinished(() => {
      supervisor.kill('SIGKILL');
      if (childPid > 0 && alive(childPid)) process.kill(childPid, 'SIGKILL');
    });
    childPid = await new Promise<number>((resolve) => {
      supervisor.stdout.once('data', (d: Buffer) => {
        resolve(Number(d.toString().trim()));
      });
    });
    expect(alive(childPid)).toBe(true);
    supervisor.kill('SIGKILL');
    await eventually('the supervised process to die', () => Promise.resolve(alive(childPid) ? undefined : true), {
      timeoutMs: 5000,
      intervalMs: 50,
    });
  });
});

describe('readProcMemory', () => {
  it('reads RSS and peak RSS of a live process, nothing for a dead one', () => {
    const mem = readProcMemory(process.pid);
    expect(mem?.rssKb).toBeGreaterThan(1000);
    expect(mem?.peakRssKb).toBeGreaterThanOrEqual(mem?.rssKb ?? Infinity);
    expect(readProcMemory(2 ** 22 + 1)).toBeUndefined();
  });
});

describe('ManagedProcess with a missing executable', () => {
  it('fails start-up at once instead of waiting out the readiness timeout', async () => {
    const p = new ManagedProcess({
      name: 'ghost',
      command: join(dir, 'no-such-binary'),
      args: [],
      logFile: join(dir, 'ghost.log'),
      ready: () => Promise.resolve(false),
      readyTimeoutMs: 30_000,
    });
    const t0 = Date.now();
    await expect(p.start()).rejects.toThrow(/ghost exited during start-up/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(p.state).toBe('stopped');
  });
});
