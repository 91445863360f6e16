// src/observability/prom-client.ts: the parts of prom-client the agent uses, from their own files, are the
// values the package's index exports (a version of the package of another shape fails here), and the
// agent's metrics expose the same series with them as with the index.

import * as index from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../../src/observability/metrics.ts';
import * as targeted from '../../../src/observability/prom-client.ts';

/** Each series' name, with its HELP and TYPE lines (values are the process's, and change). */
function shape(exposition: string): string[] {
  return exposition
    .split('\n')
    .filter((line) => line.startsWith('# '))
    .sort();
}

describe('prom-client, imported from the files the agent uses', () => {
  it('gives the same classes and functions as the package index', () => {
    expect(targeted.Registry).toBe(index.Registry);
    expect(targeted.Counter).toBe(index.Counter);
    expect(targeted.Gauge).toBe(index.Gauge);
    expect(targeted.Histogram).toBe(index.Histogram);
    expect(targeted.collectDefaultMetrics).toBe(index.collectDefaultMetrics);
  });

  it("serves the same series as the package's default metrics beside the agent's own", async () => {
    const agent = new AgentMetrics({ restClient: false });
    const reference = new index.Registry();
    index.collectDefaultMetrics({ register: reference });
    const ours = shape(await agent.text()).filter(
      (line) => !/^# (HELP|TYPE) (clusternet_agent_|leader_election_|workqueue_)/.test(line),
    );
    expect(ours).toEqual(shape(await reference.metrics()));
    expect(ours.some((line) => line.startsWith('# TYPE process_cpu_seconds_total counter'))).toBe(true);
    expect(ours.some((line) => line.startsWith('# TYPE nodejs_eventloop_lag_seconds gauge'))).toBe(true);
    agent.close();
  });
});
