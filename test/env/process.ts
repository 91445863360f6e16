// One long-running component of the test environment (etcd, kube-apiserver, ...): start, stop, kill,
// pause, resume and restart it, with its output appended to a log file and a readiness probe.
//
// Processes are started through `setpriv --pdeathsig SIGKILL` where available, so a component dies with
// the process that supervises it even when that process is killed with SIGKILL: nothing leaks.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type ProcessState = 'stopped' | 'starting' | 'running' | 'paused';

export interface ProcessSpec {
  /** Short name used in errors, e.g. `child/kube-apiserver`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Resolves true once the component serves; called repeatedly until it does. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  readonly stopGraceMs?: number;
}

export interface ProcessStatus {
  readonly name: string;
  readonly state: ProcessState;
  readonly pid: number | undefined;
  /** Resident set size and its peak (kB), from /proc; undefined when not running. */
  readonly rssKb: number | undefined;
  readonly peakRssKb: number | undefined;
  readonly restarts: number;
}

const hasSetpriv = ((): boolean => {
  const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('--pdeathsig');
})();

export class ManagedProcess {
  readonly spec: ProcessSpec;
  #child: ChildProcess | undefined;
  #state: ProcessState = 'stopped';
  #exited: Promise<void> = Promise.resolve();
  #restarts = 0;
  #lastExit: string | undefined;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
  }

  get state(): ProcessState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the process and waits until its readiness probe passes. */
  async start(): Promise<void> {
    if (this.#state !== 'stopped') return;
    this.#state = 'starting';
    const out = openSync(this.spec.logFile, 'a');
    const [command, args] = hasSetpriv
      ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', this.spec.command, ...this.spec.args]]
      : [this.spec.command, [...this.spec.args]];
    const child = spawn(command, args, {
      stdio: ['ignore', out, out],
      env: { ...process.env, ...this.spec.env },
    });
    closeSync(out);
    this.#child = child;
    this.#lastExit = undefined;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#lastExit = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
        if (this.#child === child) {
          this.#child = undefined;
          this.#state = 'stopped';
        }
        resolve();
      });
      // Spawning itself failed (e.g. ENOENT): there will be no 'exit'.
      child.once('error', (err) => {
        this.#lastExit = err.message;
        if (this.#child === child) {
          this.#child = undefined;
          this.#state = 'stopped';
        }
        resolve();
      });
    });
    await this.#waitReady(child);
    this.#state = 'running';
  }

  async #waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 90_000);
    while (Date.now() < deadline) {
      if (this.#child !== child) {
        throw new Error(
          `${this.spec.name} exited during start-up (${this.#lastExit ?? 'unknown'}); log ${this.spec.logFile}:\n${this.logTail()}`,
        );
      }
      if (await this.spec.ready().catch(() => false)) return;
      await sleep(200);
    }
    await this.kill();
    throw new Error(
      `${this.spec.name} was not ready within ${String(this.spec.readyTimeoutMs ?? 90_000)} ms; log ${this.spec.logFile}:\n${this.logTail()}`,
    );
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    if (this.#state === 'paused') child.kill('SIGCONT');
    child.kill('SIGTERM');
    const cancelGrace = new AbortController();
    const grace = sleep(this.spec.stopGraceMs ?? 10_000, 'timeout' as const, { signal: cancelGrace.signal }).catch(
      () => 'cancelled' as const,
    );
    if ((await Promise.race([this.#exited.then(() => 'exited' as const), grace])) === 'timeout') {
      child.kill('SIGKILL');
    }
    cancelGrace.abort(); // no timer may keep the event loop alive after the process is gone
    await this.#exited;
  }

  /** SIGKILL: the process gets no chance to clean up (a crash). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGSTOP: the process keeps its sockets but answers nothing (a hang or partition). */
  pause(): void {
    if (this.#child === undefined || this.#state === 'paused') return;
    this.#child.kill('SIGSTOP');
    this.#state = 'paused';
  }

  resume(): void {
    if (this.#child === undefined || this.#state !== 'paused') return;
    this.#child.kill('SIGCONT');
    this.#state = 'running';
  }

  async restart(): Promise<void> {
    await this.stop();
    this.#restarts += 1;
    await this.start();
  }

  status(): ProcessStatus {
    const pid = this.pid;
    const mem = pid === undefined ? undefined : readProcMemory(pid);
    return {
      name: this.spec.name,
      state: this.#state,
      pid,
      rssKb: mem?.rssKb,
      peakRssKb: mem?.peakRssKb,
      restarts: this.#restarts,
    };
  }

  logTail(lines = 30): string {
    if (!existsSync(this.spec.logFile)) return '(no log)';
    return readFileSync(this.spec.logFile, 'utf8').split('\n').slice(-lines).join('\n');
  }
}

/** VmRSS and VmHWM of a process in kB, or undefined when it is gone. */
export function readProcMemory(pid: number): { rssKb: number; peakRssKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    const field = (key: string): number => Number(/^\s*(\d+)/.exec(text.split(`\n${key}:`)[1] ?? '')?.[1] ?? NaN);
    return { rssKb: field('VmRSS'), peakRssKb: field('VmHWM') };
  } catch {
    return undefined;
  }
}
