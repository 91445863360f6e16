// Runs the real agent (node src/main.ts) as a child process and reads its JSON log lines.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../env/eventually.ts';

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly time?: string;
  readonly transition?: {
    machine: string;
    from: string;
    to: string;
    event: string;
    attempt?: number;
    lastFailure?: string;
  };
  readonly [key: string]: unknown;
}

const main = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));

/**
 * The tests wait for routine transitions (a heartbeat report, a poll), which the agent logs at debug
 * (-v=4): run it at -v=4 unless the test chose a verbosity (the log-volume test runs the default, -v=2).
 */
const withVerbosity = (args: readonly string[]): readonly string[] =>
  args.some((a) => /^--?v=/.test(a)) ? args : [...args, '--v=4'];

export class AgentProcess {
  readonly lines: LogLine[] = [];
  /** Everything the process wrote, for secret scanning. */
  raw = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #child: ChildProcess;
  readonly startedAt = performance.now();

  private constructor(args: readonly string[], env: NodeJS.ProcessEnv | undefined) {
    // JSON lines to read (the agent's default is text, as the Go agent's); a later flag still wins.
    this.#child = spawn(process.execPath, [main, '--logging-format=json', ...withVerbosity(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env === undefined ? {} : { env }),
    });
    let pending = '';
    this.#child.stdout?.on('data', (d: Buffer) => {
      this.raw += d.toString();
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    this.#child.stderr?.on('data', (d: Buffer) => {
      this.raw += d.toString();
    });
    this.exited = new Promise((resolve) =>
      this.#child.on('exit', (code, signal) => {
        resolve({ code, signal });
      }),
    );
  }

  /** Starts the agent; `env` replaces the test process's environment when given. */
  static start(args: readonly string[], env?: NodeJS.ProcessEnv): AgentProcess {
    return new AgentProcess(args, env);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The sequence of registration states entered so far. */
  states(machine = 'registration'): string[] {
    return this.lines.flatMap((l) => (l.transition?.machine === machine ? [l.transition.to] : []));
  }

  async waitForLine(what: string, pred: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    let exited = false;
    const hit = await eventually(
      what,
      () => {
        const found = this.lines.find(pred);
        if (found === undefined && this.#child.exitCode !== null) exited = true;
        return Promise.resolve(exited ? null : found); // null ends the wait at once
      },
      { timeoutMs, intervalMs: 25 },
    ).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nagent output:\n${this.raw.slice(-3000)}`);
    });
    if (hit === null)
      throw new Error(`agent exited (${String(this.#child.exitCode)}) before ${what}:\n${this.raw.slice(-3000)}`);
    return hit;
  }

  /** Waits until the registration machine enters `state` (after `afterIndex` transitions, if given). */
  async waitForState(state: string, timeoutMs = 60_000, machine = 'registration'): Promise<LogLine> {
    return this.waitForLine(
      `state ${state}`,
      (l) => l.transition?.machine === machine && l.transition.to === state,
      timeoutMs,
    );
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.#child.kill(signal);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGKILL');
    await this.exited;
  }
}
