// Every container arg the chart renders goes through the agent's own parser after the kubelet's
// $(VAR) expansion: the defaults, the Go charts' value sets, and every flag extraArgs accepts.

import { describe, expect, it } from 'vitest';
import { parseCommandLine, type AgentConfig } from '../../../src/config/config.ts';
import { flagSpecs } from '../../../src/config/flags.ts';
import { chartManagedFlags, refusedFlags } from '../../chart/extra-args-schema.ts';
import { expandKubeletVars, get, render, type Manifest } from '../../chart/helm.ts';
import { agentContainer, containerEnv } from '../../chart/shapes.ts';

const namespace = 'clusternet-system';

/** Renders, expands the args with the env the kubelet would give the container, and parses them. */
async function parsedConfig(values: Record<string, unknown>): Promise<{ config: AgentConfig; args: string[] }> {
  const ms = await render(values, { namespace });
  const d = get(ms, 'Deployment');
  const secret = get(ms, 'Secret', 'clusternet-agent-cluster-registration') as Manifest & {
    stringData: Record<string, string>;
  };
  const env = containerEnv(d, secret.stringData, namespace);
  const args = agentContainer(d).args.map((a) => expandKubeletVars(a, env));
  expect(args.join(' ')).not.toContain('$(');
  const inv = parseCommandLine(args);
  if (inv.kind !== 'run')
    throw new Error(`the agent rejects the chart's args: ${JSON.stringify(inv)}\n${args.join('\n')}`);
  return { config: inv.config, args };
}

describe("the chart's args parse with the agent's parser", () => {
  it("default values: registration, leader election, gates, sync mode, verbosity (the latest Go chart's)", async () => {
    const { config } = await parsedConfig({});
    expect(config.registration).toMatchObject({
      parentUrl: 'https://192.168.10.10:6443',
      token: '07401b.f395accd246ae52d',
      syncMode: 'Dual',
    });
    expect(config.systemNamespace).toBe(namespace);
    expect(config.leaderElection.enabled).toBe(true);
    expect(config.featureGates).toMatchObject({
      SocketConnection: true,
      AppPusher: true,
      Recovery: true,
      Predictor: true,
    });
    expect(config.child).toMatchObject({ qps: 50, burst: 100, kubeconfig: undefined });
    expect(config.serving.securePort).toBe(10650);
    expect(config.predictor).toMatchObject({ port: 8080, directAccess: false });
    expect(config.logging.verbosity).toBe(2);
  });

  it("the v0.7.0-era chart's extraArgs (verbosity, gates) and flags the chart sets given again in extraArgs", async () => {
    const { config } = await parsedConfig({
      featureGates: '',
      extraArgs: { v: 4, 'feature-gates': 'SocketConnection=true,AppPusher=true', 'kube-api-qps': 20, log_dir: '/x' },
    });
    expect(config.featureGates).toMatchObject({ SocketConnection: true, AppPusher: true, Recovery: false });
    expect(config.logging.verbosity).toBe(4);
    expect(config.child.qps).toBe(20);
  });

  it("the latest Go chart's defaults (featureGates, kubeAPI, extraArgs) parse", async () => {
    const { config } = await parsedConfig({
      featureGates: 'SocketConnection=true,AppPusher=true,Recovery=true,Predictor=true',
      extraArgs: {
        'cluster-sync-mode': 'Dual',
        'use-metrics-server': false,
        'predictor-direct-access': false,
        'predictor-port': 8080,
      },
    });
    expect(config.featureGates).toMatchObject({ Recovery: true, Predictor: true });
    expect(config.predictor).toMatchObject({ port: 8080, directAccess: false });
    expect(config.logging.verbosity).toBe(2);
  });

  it('a Push-mode value set with cluster name, namespace, labels and no leader election', async () => {
    const { config } = await parsedConfig({
      leaderElect: false,
      extraArgs: {
        'cluster-sync-mode': 'Push',
        'cluster-reg-name': 'mycluster',
        'cluster-reg-namespace': 'mycluster-ns',
        'cluster-labels': 'env=prod,tier=edge',
        'cluster-status-update-frequency': '1m',
      },
    });
    expect(config.registration).toMatchObject({
      syncMode: 'Push',
      clusterName: 'mycluster',
      clusterNamespace: 'mycluster-ns',
      clusterLabels: { env: 'prod', tier: 'edge' },
    });
    expect(config.leaderElection.enabled).toBe(false);
    expect(config.status.updateFrequencyMs).toBe(60_000);
  });

  it('every flag extraArgs accepts, each at its default value, renders args the agent accepts', async () => {
    const extraArgs: Record<string, unknown> = {};
    for (const spec of flagSpecs) {
      // The chart's own flags at their defaults would override what it renders (an empty parent URL).
      if (chartManagedFlags.includes(spec.name) || refusedFlags.includes(spec.name)) continue;
      extraArgs[spec.name] = spec.default;
    }
    // --feature-gates and --v are set to real values; an empty gate list adds no arg.
    extraArgs['feature-gates'] = 'SocketConnection=true';
    extraArgs.v = 3;
    const { args, config } = await parsedConfig({ extraArgs });
    const rendered = new Set(args.map((a) => /^--([^=]+)/.exec(a)?.[1]));
    for (const name of Object.keys(extraArgs)) {
      const spec = flagSpecs.find((s) => s.name === name);
      const emptyList = Array.isArray(spec?.default) && spec.default.length === 0;
      if (!emptyList) expect(rendered, name).toContain(name);
    }
    expect(config.logging.verbosity).toBe(3);
  });
});
