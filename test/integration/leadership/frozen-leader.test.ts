// Issue 13 #9 on a real agent process: SIGSTOP the leader for longer than the lease duration, SIGCONT
// it. Every timer is overdue then, and fires in the order it was due: the renewal's and the work's
// before the deadline's. The leader must stop working before any of them acts.

import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { testEnv } from '../../env/vitest-env.ts';
import type { LogLine } from '../helpers/agent-process.ts';
import { registrationParent } from '../helpers/parent.ts';
import { enters } from '../helpers/state-entries.ts';

const env = testEnv();
const parent = registrationParent(env);

/** Entries into leader-only work: a renewal, a status collection, a credential check. */
const work: readonly (readonly [string, string])[] = [
  ['leadership', 'leading.term.renewing'],
  ['heartbeat', 'collection.collecting'],
  ['registration', 'checkingCredentials'],
];
const workEntered = (l: LogLine): string[] => work.filter(([m, st]) => enters(l, m, st)).map(([m, st]) => `${m} ${st}`);

describe('a frozen leader', () => {
  it('after SIGSTOP past the lease duration and SIGCONT, steps down before any overdue work timer acts', async () => {
    const ns = await parent.systemNamespace('cnet-frozen');
    const agent = parent.agent([
      `--leader-elect-resource-namespace=${ns}`,
      '--cluster-status-collect-frequency=1s',
      '--parent-credentials-check-interval=3s',
      '-v=4', // the collection's transitions are logged at debug
    ]);
    await agent.waitForState('leading.serving.working', 60_000, 'agent');
    for (let cycle = 0; cycle < 3; cycle++) {
      await sleep(3500); // every work timer is running again
      const pid = agent.pid ?? 0;
      process.kill(pid, 'SIGSTOP');
      await sleep(16_000); // longer than the lease duration (15 s)
      const mark = agent.lines.length;
      process.kill(pid, 'SIGCONT');
      await agent.waitForLine(
        `standby after cycle ${String(cycle)}`,
        (l) => agent.lines.indexOf(l) >= mark && l.transition?.machine === 'agent' && l.transition.to === 'standby',
        20_000,
      );
      const after = agent.lines.slice(mark);
      const stepDown = after.findIndex((l) => l.transition?.machine === 'agent' && l.transition.to === 'standby');
      expect(after.slice(0, stepDown).flatMap(workEntered)).toEqual([]);
      // The work did run while it led: the check above can see it.
      expect(agent.lines.slice(0, mark).flatMap(workEntered).length).toBeGreaterThan(0);
      await agent.waitForLine(
        `leading again after cycle ${String(cycle)}`,
        (l) =>
          agent.lines.indexOf(l) > mark + stepDown &&
          l.transition?.machine === 'agent' &&
          l.transition.to === 'leading.serving.working',
        60_000,
      );
    }
  });
});
