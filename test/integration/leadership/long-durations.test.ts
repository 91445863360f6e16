// Durations of 2^31 ms (about 596.5 h) and more, on the real agent against the real clusters: Node
// fires a setTimeout that long after 1 ms, so before every timer went through the long-timer clock the
// 600h periods below repeated every millisecond and 1000h leader-election periods never let it lead.

import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { testEnv } from '../../env/vitest-env.ts';
import type { AgentProcess } from '../helpers/agent-process.ts';
import { enters } from '../helpers/state-entries.ts';
import { registrationParent } from '../helpers/parent.ts';

const env = testEnv();
const parent = registrationParent(env);

/** How many times `machine` entered `state` after the first `from` lines of the log. */
const entries = (a: AgentProcess, machine: string, state: string, from = 0): number =>
  a.lines.slice(from).filter((l) => enters(l, machine, state)).length;

describe('durations past Node’s timer limit', () => {
  it('600h collection, 700h report and 600h credential check: each runs once, then waits', async () => {
    const ns = await parent.systemNamespace('cnet-long');
    const agent = parent.agent([
      `--leader-elect-resource-namespace=${ns}`,
      '--cluster-status-collect-frequency=600h',
      '--cluster-status-update-frequency=700h',
      '--parent-credentials-check-interval=600h',
      '-v=4', // the collection's routine transitions are logged at debug
    ]);
    await agent.waitForState('leading.serving.working', 60_000, 'agent');
    await agent.waitForLine('the first collection done', (l) => enters(l, 'heartbeat', 'collection.idle'), 30_000);
    await agent.waitForState('registered', 30_000, 'registration');
    const mark = agent.lines.length;
    await sleep(5000);
    expect(agent.raw).not.toContain('TimeoutOverflowWarning');
    expect(entries(agent, 'heartbeat', 'collection.collecting', mark)).toBe(0);
    expect(entries(agent, 'registration', 'checkingCredentials', mark)).toBe(0);
    // Over the whole run: the first collection (and one soon after, when the nodes first sync) only.
    expect(entries(agent, 'heartbeat', 'collection.collecting')).toBeGreaterThanOrEqual(1);
    expect(entries(agent, 'heartbeat', 'collection.collecting')).toBeLessThanOrEqual(2);
  });

  it('2000h lease, 1500h renew deadline, 1000h retry period: it leads and stays leading', async () => {
    const ns = await parent.systemNamespace('cnet-long');
    const agent = parent.agent([
      `--leader-elect-resource-namespace=${ns}`,
      '--leader-elect-lease-duration=2000h',
      '--leader-elect-renew-deadline=1500h',
      '--leader-elect-retry-period=1000h',
    ]);
    await agent.waitForState('leading.serving.working', 60_000, 'agent');
    await sleep(5000);
    expect(agent.raw).not.toContain('TimeoutOverflowWarning');
    expect(entries(agent, 'agent', 'standby')).toBeLessThanOrEqual(1); // the start only
    expect(entries(agent, 'leadership', 'leading.term.renewing')).toBe(0);
    expect(agent.states('agent').at(-1)).toBe('leading.serving.working');
  });
});
