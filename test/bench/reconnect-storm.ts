// npm run bench:reconnect-storm: a simulation (no network) of 10,000 agents whose tunnels end at the same
// instant, with the reconnect decisions and delay functions the agent ships (machines/socket/decisions.ts,
// machines/socket/timing.ts), beside the Go agent's fixed policy (spec §5.3: the library sleeps 5 s, then
// the loop waits 5 s + up to 30 %: 10–11.5 s between attempts, whatever the failure).
//
//   restart:   the hub goes away (connection refused) for 30 s, then serves.
//   rejecting: the hub answers every handshake with 404 for 10 min, then serves.
//
// Printed: peak handshakes per second at the hub (the most in any 1 s window; a refused connection is
// not a handshake, it is counted apart as connection attempts), the time from the hub serving again
// until 99 % of the agents are back, and handshakes per agent per minute while it rejects. Medians of
// several seeded runs. `before` is the policy of commit 5b1ad2f (200 ms doubling to 1.5 s for
// everything but 401/403, and a Ping counted as health), for the comparison only.

import {
  classifyEnd,
  failureResponse,
  type TunnelEnd,
  type TunnelFailureKind,
} from '../../machines/socket/decisions.ts';
import { recheckFallbackDelay, refusedDelay, rejectedDelay, unreachableDelay } from '../../machines/socket/timing.ts';
import { nextDelay } from '../../machines/backoff.ts';
import { median } from './stats.ts';
import { seededRandom } from '../env/seeded-random.ts';

const agents = Number(process.env.AGENTS ?? 10_000);
const runs = Number(process.env.RUNS ?? 5);

/** How one agent waits: given how its last attempt ended, the ms until the next. */
interface Policy {
  readonly name: string;
  /** A fresh per-agent waiter. */
  agent(rand: () => number): (end: TunnelEnd) => number;
}

/** The shipped chart's decision: kind, response, count per kind, delay function (as machines/socket/machine.ts). */
const shipped: Policy = {
  name: 'this agent',
  agent: (rand) => {
    let kind: TunnelFailureKind | undefined;
    let attempt = 0;
    return (end) => {
      const k = classifyEnd(end);
      attempt = k === kind ? attempt + 1 : 1;
      kind = k;
      switch (failureResponse(k)) {
        case 'retrySoon':
          return unreachableDelay(attempt, rand);
        case 'backOff':
          return refusedDelay(attempt, rand);
        case 'rejected':
          return rejectedDelay(attempt, rand);
        case 'recheck':
          return recheckFallbackDelay(attempt, rand); // no registration in this simulation
      }
    };
  },
};

/** The Go agent (spec §5.3). */
const go: Policy = {
  name: 'Go agent',
  agent: (rand) => () => 5000 + 5000 * (1 + 0.3 * rand()),
};

/** Before this change (commit 5b1ad2f): one count for every failure but 401/403, 200 ms doubling to 1.5 s. */
const before: Policy = {
  name: 'before (5b1ad2f)',
  agent: (rand) => {
    let attempt = 0;
    return () => nextDelay(++attempt, { initialMs: 200, factor: 2, maxMs: 1500, jitter: 0.3 }, rand);
  },
};

interface Scenario {
  readonly name: string;
  /** When the hub serves again (ms). */
  readonly backAt: number;
  /** Whether an attempt at `t` reaches a hub process (a handshake) rather than a refused connection. */
  readonly answers: (t: number) => boolean;
  /** How an attempt at `t` before backAt ends. */
  readonly failure: TunnelEnd;
}

const restart: Scenario = {
  name: 'restart (down 30 s, refused)',
  backAt: 30_000,
  answers: (t) => t >= 30_000,
  failure: { code: 'ECONNREFUSED', opened: false, proved: false },
};
const rejecting: Scenario = {
  name: 'rejecting (404 for 10 min)',
  backAt: 600_000,
  answers: () => true,
  failure: { status: 404, opened: false, proved: false },
};

/** A binary min-heap of [time, agent]. */
class Queue {
  readonly #t: number[] = [];
  readonly #a: number[] = [];
  get size(): number {
    return this.#t.length;
  }
  push(t: number, a: number): void {
    const ts = this.#t;
    const as = this.#a;
    let i = ts.length;
    ts.push(t);
    as.push(a);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((ts[p] ?? 0) <= t) break;
      ts[i] = ts[p] ?? 0;
      as[i] = as[p] ?? 0;
      i = p;
    }
    ts[i] = t;
    as[i] = a;
  }
  pop(): [number, number] {
    const ts = this.#t;
    const as = this.#a;
    const top: [number, number] = [ts[0] ?? 0, as[0] ?? 0];
    const t = ts.pop() ?? 0;
    const a = as.pop() ?? 0;
    const n = ts.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (ts[r] ?? 0) < (ts[l] ?? 0) ? r : l;
        if ((ts[c] ?? 0) >= t) break;
        ts[i] = ts[c] ?? 0;
        as[i] = as[c] ?? 0;
        i = c;
      }
      ts[i] = t;
      as[i] = a;
    }
    return top;
  }
}

/** The most events in any window of `ms` (sorted times). */
function peak(times: readonly number[], ms = 1000): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while ((times[hi] ?? 0) - (times[lo] ?? 0) >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

interface Result {
  readonly peakHandshakes: number;
  readonly peakAttempts: number;
  /** ms from the hub serving until 99 % are back. */
  readonly t99: number;
  /** Handshakes per agent per minute in the last 5 min before the hub serves (rejecting only). */
  readonly perAgentPerMin: number;
}

function simulate(policy: Policy, sc: Scenario, seed: number): Result {
  const rand = seededRandom(seed);
  const waiters = Array.from({ length: agents }, () => policy.agent(rand));
  const q = new Queue();
  // t = 0: every session ends at once (they were healthy).
  for (let a = 0; a < agents; a++) q.push((waiters[a] ?? (() => 0))({ opened: true, proved: true }), a);
  const handshakes: number[] = [];
  const attempts: number[] = [];
  const back: number[] = [];
  while (q.size > 0) {
    const [t, a] = q.pop();
    attempts.push(t);
    if (sc.answers(t)) handshakes.push(t);
    if (t >= sc.backAt) {
      back.push(t);
      continue;
    }
    q.push(t + (waiters[a] ?? (() => 0))(sc.failure), a);
  }
  back.sort((x, y) => x - y);
  handshakes.sort((x, y) => x - y);
  attempts.sort((x, y) => x - y);
  const from = Math.max(0, sc.backAt - 300_000);
  const late = handshakes.filter((t) => t >= from && t < sc.backAt).length;
  return {
    peakHandshakes: peak(handshakes),
    peakAttempts: peak(attempts),
    t99: (back[Math.ceil(0.99 * agents) - 1] ?? 0) - sc.backAt,
    perAgentPerMin: sc.answers(0) ? late / agents / ((sc.backAt - from) / 60_000) : 0,
  };
}

function row(cells: readonly string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(30) : c.padStart(14))).join(' ');
}

const fmt = (n: number, digits = 0): string => n.toFixed(digits);

console.log(`reconnect storm: ${String(agents)} agents, medians of ${String(runs)} seeded runs (no network)\n`);
for (const sc of [restart, rejecting]) {
  const results = new Map<string, Result>();
  for (const p of [shipped, go, before]) {
    const rs = Array.from({ length: runs }, (_, i) => simulate(p, sc, 1000 + i));
    results.set(p.name, {
      peakHandshakes: median(rs.map((r) => r.peakHandshakes)),
      peakAttempts: median(rs.map((r) => r.peakAttempts)),
      t99: median(rs.map((r) => r.t99)),
      perAgentPerMin: median(rs.map((r) => r.perAgentPerMin)),
    });
  }
  console.log(sc.name);
  console.log(row(['policy', 'peak hs/s', 'peak conn/s', '99 % back (s)', 'hs/agent/min']));
  for (const [name, r] of results) {
    console.log(
      row([
        name,
        fmt(r.peakHandshakes),
        fmt(r.peakAttempts),
        fmt(r.t99 / 1000, 2),
        sc.answers(0) ? fmt(r.perAgentPerMin, 2) : '-',
      ]),
    );
  }
  const ours = results.get(shipped.name);
  const theirs = results.get(go.name);
  if (ours !== undefined && theirs !== undefined) {
    console.log(
      `  this agent / Go: peak handshakes ${fmt(ours.peakHandshakes / theirs.peakHandshakes, 2)}, ` +
        `time to 99 % back ${fmt(ours.t99 / theirs.t99, 2)}\n`,
    );
  }
}
