// The chart refuses at `helm install` what the agent refuses at start (issue: a chart that accepts
// `cluster-sync-mode=Bogus` installs a pod that crash-loops). Each value goes through the real helm with
// the chart's schema and templates, and through the agent's own command-line parser: both must agree.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/config/config.ts';
import { flagSpecs } from '../../../src/config/flags.ts';
import { chartDir, ciValues, expandKubeletVars, get, helm, parseManifests, setJson } from '../../chart/helm.ts';
import { agentContainer } from '../../chart/shapes.ts';

const parentURL = 'https://192.168.10.10:6443';
const token = '07401b.f395accd246ae52d';
const namespace = 'clusternet-system';
const chartGates = 'SocketConnection=true,AppPusher=true,Recovery=true';
const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl';

/** One value, as chart values and as the agent flag it becomes. */
interface Case {
  readonly values: Readonly<Record<string, unknown>>;
  /** The agent's command line for the same value (the chart's own flags first, as it renders them). */
  readonly argv: readonly string[];
}

const base = (over: { token?: string; url?: string; gates?: string } = {}): string[] => [
  `--cluster-reg-token=${over.token ?? token}`,
  `--cluster-reg-parent-url=${over.url ?? parentURL}`,
  `--leader-elect-resource-namespace=${namespace}`,
  `--feature-gates=${over.gates ?? chartGates}`,
];

const flag = (name: string, value: unknown): [string, Case] => [
  `extraArgs.${name}=${JSON.stringify(value)}`,
  {
    values: { [`extraArgs.${name}`]: value },
    argv: [
      ...base(),
      ...(Array.isArray(value) ? value.map((v: unknown) => `--${name}=${String(v)}`) : [`--${name}=${String(value)}`]),
    ],
  },
];

const cases: [string, Case][] = [
  // Enums.
  ...['Pull', 'Push', 'Dual', 'Bogus', 'pull'].map((v) => flag('cluster-sync-mode', v)),
  ...['StandardCluster', 'EdgeCluster', 'Edge'].map((v) => flag('cluster-reg-type', v)),
  ...['json', 'text', 'xml'].map((v) => flag('logging-format', v)),
  ...['VersionTLS10', 'VersionTLS13', 'VersionTLS14', 'tls12'].map((v) => flag('tls-min-version', v)),
  // Names.
  ...['mycluster', 'my.cluster-1', 'Bad_Name', '-x', 'a'.repeat(30), 'a'.repeat(31)].map((v) =>
    flag('cluster-reg-name', v),
  ),
  ...['ok-prefix', 'a'.repeat(24), 'a'.repeat(25), 'Bad_Prefix', ''].map((v) => flag('cluster-reg-name-prefix', v)),
  ...['ns-1', 'Bad', 'a.b', 'a'.repeat(63), 'a'.repeat(64)].map((v) => flag('cluster-reg-namespace', v)),
  ...['my-lease', 'Bad_Lease'].map((v) => flag('leader-elect-resource-name', v)),
  // Labels: items without exactly one `=` are skipped (with a warning); others must be valid labels.
  ...[
    'env=prod,tier=web',
    'example.com/team=a',
    'novalue',
    'a=b=c',
    'bad key=v',
    'k=bad value',
    `k=${'v'.repeat(63)}`,
    `k=${'v'.repeat(64)}`,
    `${'k'.repeat(64)}=v`,
    '-k=v',
  ].map((v) => flag('cluster-labels', v)),
  // Numbers and ranges.
  ...['0.8', '1', '0', '1.5', '-0.1', 'x'].map((v) => flag('labels-aggregate-threshold', v)),
  ...[0.5, 2].map((v) => flag('labels-aggregate-threshold', v)),
  ...[8080, 0, 65535, 65536, '9090', '-1'].map((v) => flag('predictor-port', v)),
  ...[0, 10650, 65536, -1].map((v) => flag('secure-port', v)),
  ...[20, 0, -1, '1e3', 'fast'].map((v) => flag('kube-api-qps', v)),
  ...[100, -1, 2 ** 31, '200'].map((v) => flag('kube-api-burst', v)),
  ...[2, 10, -1].map((v) => flag('v', v)),
  // Durations: Go's syntax, positive where the agent needs it, within Go's range.
  ...['10s', '1h30m', '1.5h', '500ms', '0', '0s', '-5s', '5 minutes', '2562047h'].map((v) =>
    flag('cluster-status-update-frequency', v),
  ),
  flag('cluster-status-update-frequency', '9999999999999h'),
  flag('cluster-status-update-frequency', '2562047h47m16.854775807s'),
  flag('leader-elect-lease-duration', '596523h14m7s'),
  flag('leader-elect-lease-duration', '596523h14m8s'),
  ...['20s', '-1s', 'abc'].map((v) => flag('cluster-status-collect-frequency', v)),
  ...['1m', '0s'].map((v) => flag('parent-credentials-check-interval', v)),
  flag('leader-elect-lease-duration', '10s'),
  flag('leader-elect-lease-duration', '30s'),
  flag('leader-elect-renew-deadline', '2s'),
  flag('leader-elect-retry-period', '9s'),
  flag('leader-elect-retry-period', '1s'),
  // Feature gates, URLs, targets.
  ...[
    'Predictor=true',
    'MultiClusterService=false',
    'APIResponseCompression=true',
    'NoSuchGate=true',
    'Predictor=maybe',
  ].map((v) => flag('feature-gates', v)),
  ...['http://localhost:8080', 'not a url', ''].map((v) => flag('predictor-addr', v)),
  ...['ws://localhost:8080', 'http://localhost:8080'].map((v) => flag('statechart-inspector', v)),
  ...['host:443', '*', 'host', 'host:70000', ['a:1', 'b:2']].map((v) => flag('tunnel-allowed-targets', v)),
  flag('helm-binary', ''),
  flag('bind-address', '127.0.0.1'),
  // Booleans.
  ...[true, 'false', 'yes'].map((v) => flag('use-metrics-server', v)),
  // Cross-flag: Push needs AppPusher.
  [
    'cluster-sync-mode=Push without AppPusher',
    {
      values: { 'extraArgs.cluster-sync-mode': 'Push', featureGates: 'SocketConnection=true' },
      argv: [...base({ gates: 'SocketConnection=true' }), '--cluster-sync-mode=Push'],
    },
  ],
  // Top-level values.
  ...['SocketConnection=true,Predictor=true', 'Bogus=true', 'SocketConnection=yes'].map((v): [string, Case] => [
    `featureGates=${v}`,
    { values: { featureGates: v }, argv: base({ gates: v }) },
  ]),
  ...[token, jwt, 'abc', '07401B.F395ACCD246AE52D', 'a.b'].map((v): [string, Case] => [
    `registrationToken=${v.slice(0, 6)}…`,
    { values: { registrationToken: v }, argv: base({ token: v }) },
  ]),
  ...['https://parent.example:6443', 'http://10.0.0.1:6443/base', 'ftp://x', 'not a url', 'https://p:6443?x=1'].map(
    (v): [string, Case] => [`parentURL=${v}`, { values: { parentURL: v }, argv: base({ url: v }) }],
  ),
];

/** What helm says of these values: the rendered agent argv (kubelet-expanded), or the failure. */
async function helmVerdict(values: Readonly<Record<string, unknown>>): Promise<{ argv?: string[]; error?: string }> {
  const r = await helm(['template', 'agent', chartDir, '-n', namespace, '-f', ciValues, ...setJson(values)]);
  if (r.code !== 0) return { error: r.stderr };
  const secret = get(parseManifests(r.stdout), 'Secret', 'clusternet-agent-cluster-registration') as unknown as {
    stringData: { parentURL: string; regToken: string };
  };
  const env = {
    PARENT_URL: secret.stringData.parentURL,
    REG_TOKEN: secret.stringData.regToken,
    AGENT_NAMESPACE: namespace,
  };
  const args = agentContainer(get(parseManifests(r.stdout), 'Deployment')).args;
  return { argv: args.map((a) => expandKubeletVars(a, env)) };
}

describe.concurrent('the chart refuses what the agent refuses, and accepts what it accepts', () => {
  it.each(cases)(
    '%s',
    async (_name, c) => {
      const chart = await helmVerdict(c.values);
      const agentOnCase = parseCommandLine(c.argv).kind === 'run';
      if (chart.argv !== undefined) {
        // The agent must start with exactly what the chart rendered.
        const rendered = parseCommandLine(chart.argv);
        expect(rendered.kind === 'invalid' ? rendered.errors : [], 'the agent refuses what the chart rendered').toEqual(
          [],
        );
      }
      const chartAccepts = chart.argv !== undefined;
      expect(chartAccepts, chart.error ?? 'chart accepted').toBe(agentOnCase);
      // A refusal never shows the registration token.
      const secret = c.values.registrationToken;
      if (chart.error !== undefined && typeof secret === 'string') expect(chart.error).not.toContain(secret);
    },
    60_000,
  );
});

describe('the templates know every duration flag of the agent', () => {
  it('lists the same duration flags as the flag table', () => {
    const helpers = readFileSync(join(chartDir, 'templates', '_helpers.tpl'), 'utf8');
    const listed = /define "clusternet-agent\.durationFlags" -}}\n(.+)\n/.exec(helpers)?.[1]?.split(' ') ?? [];
    const durations = flagSpecs.filter((s) => s.kind === 'duration' && s.ignored !== true).map((s) => s.name);
    expect([...listed].sort()).toEqual([...durations].sort());
  });
});
