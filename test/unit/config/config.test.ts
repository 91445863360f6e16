import { describe, expect, it } from 'vitest';
import { describeFlags, parseCommandLine, type AgentConfig } from '../../../src/config/config.ts';
import { renderUsage } from '../../../src/cli/output.ts';

const token = 'abcdef.0123456789abcdef';
const required = ['--cluster-reg-parent-url=https://10.0.0.1:6443', `--cluster-reg-token=${token}`];

function config(...extra: string[]): AgentConfig {
  const inv = parseCommandLine([...required, ...extra]);
  if (inv.kind !== 'run') throw new Error(`expected a config, got ${JSON.stringify(inv)}`);
  return inv.config;
}
function errors(...argv: string[]): readonly string[] {
  const inv = parseCommandLine(argv);
  return inv.kind === 'invalid' ? inv.errors : [];
}

describe('parseCommandLine', () => {
  it('has the Go agent’s defaults', () => {
    const c = config();
    expect(c.registration).toEqual({
      parentUrl: 'https://10.0.0.1:6443',
      parentUrlAsGiven: 'https://10.0.0.1:6443',
      token,
      clusterName: undefined,
      clusterNamePrefix: 'clusternet-cluster',
      clusterNamespace: undefined,
      clusterType: 'StandardCluster',
      syncMode: 'Pull',
      clusterLabels: {},
    });
    expect(c.status).toEqual({ updateFrequencyMs: 180_000, collectFrequencyMs: 20_000, useMetricsServer: false });
    expect(c.leaderElection).toEqual({
      enabled: true,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
      leaseName: 'clusternet-agent',
    });
    expect(c.systemNamespace).toBe('clusternet-system');
    expect(c.child).toEqual({ kubeconfig: undefined, qps: 50, burst: 100 });
    expect(c.serving).toMatchObject({ bindAddress: '0.0.0.0', securePort: 10650 });
    expect(c.management).toEqual({ labelsAggregateThreshold: 0.8, labelsAggregatePrefixes: ['node.clusternet.io/'] });
    expect(c.predictor).toEqual({ addr: '', directAccess: false, port: 8080 });
    expect(c.logging).toEqual({ verbosity: 2, format: 'json', splitStream: false, vmodule: [] }); // ours: JSON by default (Go: text)
    expect(Object.values(c.featureGates).some(Boolean)).toBe(false);
  });

  it('is frozen, deeply', () => {
    const c = config('--cluster-labels=a=b');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.registration.clusterLabels)).toBe(true);
    expect(Object.isFrozen(c.management.labelsAggregatePrefixes)).toBe(true);
  });

  it('takes what the charts pass (v0.7.0-era and latest)', () => {
    const c = config(
      '--cluster-reg-name=child-1',
      '--cluster-sync-mode=Dual',
      '--feature-gates=SocketConnection=true,AppPusher=true,Recovery=true,Predictor=true',
      '--leader-elect-resource-namespace=clusternet-system',
      '--v=4',
      '--cluster-labels=env=prod,clusternet.io/zone=a',
    );
    expect(c.registration.clusterName).toBe('child-1');
    expect(c.registration.syncMode).toBe('Dual');
    expect(c.registration.clusterLabels).toEqual({ env: 'prod', 'clusternet.io/zone': 'a' });
    expect(c.featureGates.AppPusher).toBe(true);
    expect(c.logging.verbosity).toBe(4);
  });

  it('accepts every flag of the latest Go agent and the v0.7.0 klog flags', () => {
    const all = [
      '--cluster-reg-name=a', '--cluster-reg-name-prefix=p', '--cluster-reg-namespace=ns', '--cluster-reg-type=EdgeCluster',
      '--cluster-sync-mode=Pull', '--cluster-labels=', '--labels-aggregate-threshold=0.5', '--labels-aggregate-prefix=x/',
      '--cluster-status-update-frequency=1m', '--cluster-status-collect-frequency=10s', '--use-metrics-server=true',
      '--predictor-addr=http://p:1', '--predictor-direct-access', '--predictor-port=9090', '--leader-elect=true',
      '--leader-elect-lease-duration=20s', '--leader-elect-renew-deadline=15s', '--leader-elect-retry-period=3s',
      '--leader-elect-resource-lock=lease', '--leader-elect-resource-name=clusternet-agent',
      '--leader-elect-resource-namespace=clusternet-system', '--kubeconfig=/k', '--kube-api-qps=10', '--kube-api-burst=20',
      '--enable-tunnel-logging', '--bind-address=127.0.0.1', '--secure-port=0', '--cert-dir=/c', '--tls-cert-file=/a',
      '--tls-private-key-file=/b', '--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', '--tls-min-version=VersionTLS12', '--tls-sni-cert-key=/a,/b',
      '--http2-max-streams-per-connection=100', '--disable-http2-serving', '--permit-port-sharing', '--permit-address-sharing', '--profiling=false',
      '--contention-profiling', '--show-hidden-metrics-for-version=1.0', '--disabled-metrics=m',
      '--allow-metric-labels=m,l=v', '--allow-metric-labels-manifest=/m', '-v=3', '--vmodule=a=1', '--logging-format=json',
      '--log-flush-frequency=2s', '--log-text-split-stream', '--log-text-info-buffer-size=1Ki', '--log-json-split-stream',
      '--log-json-info-buffer-size=1Ki', '--feature-gates=AppPusher=true',
      '--add_dir_header', '--alsologtostderr', '--log_backtrace_at=:0', '--log_dir=/l', '--log_file=/f',
      '--log_file_max_size=10', '--logtostderr=false', '--one_output', '--skip_headers', '--skip_log_headers',
      '--stderrthreshold=2',
    ]; // prettier-ignore
    expect(errors(...required, ...all)).toEqual([]);
  });

  it.each([
    [['--cluster-reg-parent-url=https://p.example/prefix/'], 'https://p.example/prefix', 'https://p.example/prefix/'],
    [['--cluster-reg-parent-url=https://p:6443/'], 'https://p:6443', 'https://p:6443/'],
    [['--cluster-reg-parent-url= https://p:6443 '], 'https://p:6443', 'https://p:6443'],
  ])('normalises the parent URL %j → %s for requests, keeps %s to store', (argv, url, asGiven) => {
    const inv = parseCommandLine([`--cluster-reg-token=${token}`, ...argv]);
    expect(inv.kind === 'run' && inv.config.registration.parentUrl).toBe(url);
    expect(inv.kind === 'run' && inv.config.registration.parentUrlAsGiven).toBe(asGiven);
  });

  it('accepts durations of hundreds of hours, as Go does (the issue 13 command lines)', () => {
    const c = config(
      '--cluster-status-collect-frequency=600h',
      '--cluster-status-update-frequency=700h',
      '--parent-credentials-check-interval=600h',
      '--leader-elect-lease-duration=2000h',
      '--leader-elect-renew-deadline=1500h',
      '--leader-elect-retry-period=1000h',
    );
    expect(c.status.collectFrequencyMs).toBe(600 * 3_600_000);
    expect(c.status.updateFrequencyMs).toBe(700 * 3_600_000);
    expect(c.leaderElection).toMatchObject({
      leaseDurationMs: 2000 * 3_600_000,
      renewDeadlineMs: 1500 * 3_600_000,
      retryPeriodMs: 1000 * 3_600_000,
    });
  });

  it('accepts a ServiceAccount JWT as the token', () => {
    expect(
      errors('--cluster-reg-parent-url=https://p', '--cluster-reg-token=eyJhbGciOi.eyJpc3MiOi.c2lnbmF0dXJl'),
    ).toEqual([]);
  });

  it.each([
    [[], ['--cluster-reg-parent-url is required', '--cluster-reg-token is required']],
    [['--cluster-reg-parent-url=', `--cluster-reg-token=${token}`], ['--cluster-reg-parent-url is required']],
    [['--cluster-reg-parent-url=10.0.0.1:6443', `--cluster-reg-token=${token}`], ['is not a valid URL']],
    [['--cluster-reg-parent-url=https://', `--cluster-reg-token=${token}`], ['is not a valid URL']],
    [['--cluster-reg-parent-url=https://p?x=1', `--cluster-reg-token=${token}`], ['must not have a query or fragment']],
    [['--cluster-reg-parent-url=https://p', '--cluster-reg-token=not-a-token'], ['--cluster-reg-token is malformed']],
    [
      ['--cluster-reg-parent-url=https://p', '--cluster-reg-token=ABCDEF.0123456789abcdef'],
      ['--cluster-reg-token is malformed'],
    ],
    [
      [...required, '--cluster-reg-name=a-name-that-is-much-too-long-for-crd'],
      ['--cluster-reg-name is 36 characters long; the maximum is 30'],
    ],
    [[...required, '--cluster-reg-name=Prod_East'], ['--cluster-reg-name "Prod_East" must consist of lower case']],
    [
      [...required, '--cluster-reg-name-prefix=a-prefix-of-twenty-five-c'],
      ['--cluster-reg-name-prefix must be 1 to 24 characters long'],
    ],
    [[...required, '--cluster-reg-namespace=My.NS'], ['--cluster-reg-namespace "My.NS" must be a DNS label']],
    [[...required, '--cluster-reg-type=Huge'], ['--cluster-reg-type must be StandardCluster or EdgeCluster']],
    [[...required, '--cluster-sync-mode=pull'], ['--cluster-sync-mode must be Push, Pull or Dual']],
    [[...required, '--cluster-sync-mode=Push'], ['--cluster-sync-mode=Push requires the feature gate AppPusher=true']],
    [
      [...required, '--cluster-labels=a=b,=x,Bad Key=v,k=-v-'],
      [
        '"=x" is not a valid Kubernetes label',
        '"Bad Key=v" is not a valid Kubernetes label',
        '"k=-v-" is not a valid Kubernetes label',
      ],
    ],
    [[...required, '--labels-aggregate-threshold=1.5'], ['--labels-aggregate-threshold must be between 0 and 1']],
    [
      [...required, '--cluster-status-update-frequency=0s'],
      ['--cluster-status-update-frequency must be a positive duration, not 0s'],
    ],
    [
      [...required, '--cluster-status-collect-frequency=-1s'],
      ['--cluster-status-collect-frequency must be a positive duration'],
    ],
    [
      [...required, '--leader-elect-lease-duration=10s'],
      ['--leader-elect-lease-duration (10s) must be greater than --leader-elect-renew-deadline (10s)'],
    ],
    [
      [...required, '--leader-elect-retry-period=9s'],
      ['--leader-elect-renew-deadline (10s) must be greater than 1.2 × --leader-elect-retry-period (9s)'],
    ],
    [
      [...required, '--leader-elect-resource-namespace=Bad_NS'],
      ['--leader-elect-resource-namespace "Bad_NS" is not a valid namespace name'],
    ],
    [
      [...required, '--cluster-status-collect-frequency=9999999999999h'],
      [
        'invalid argument "9999999999999h" for "--cluster-status-collect-frequency" flag: time: invalid duration "9999999999999h"',
      ],
    ],
    [[...required, '--parent-credentials-check-interval=2562048h'], ['flag: time: invalid duration "2562048h"']],
    [
      [
        ...required,
        '--leader-elect-lease-duration=600000h',
        '--leader-elect-renew-deadline=1500h',
        '--leader-elect-retry-period=1000h',
      ],
      ["--leader-elect-lease-duration (600000h0m0s) must be at most 596523h14m7s (the Lease's leaseDurationSeconds"],
    ],
    [[...required, '--secure-port=70000'], ['--secure-port must be between 0 and 65535']],
    [[...required, '--kube-api-qps=-1'], ['--kube-api-qps must not be negative']],
    [[...required, '--tls-cert-file=/a'], ['--tls-cert-file and --tls-private-key-file must be given together']],
    [[...required, '--logging-format=xml'], ['--logging-format must be text or json']],
    [[...required, '--feature-gates=Bogus=true'], ['--feature-gates: unrecognized feature gate: Bogus']],
    [[...required, '--tls-min-version=VersionTLS14'], ['--tls-min-version: unknown tls version "VersionTLS14"']],
  ])('%j is rejected with one line per problem', (argv, fragments) => {
    const errs = errors(...argv);
    expect(errs).toHaveLength(fragments.length);
    fragments.forEach((frag, i) => {
      expect(errs[i]).toContain(frag);
    });
    for (const e of errs) expect(e).not.toContain('\n');
  });

  it.each([
    // As the Go agent: items without exactly one '=' are skipped with a warning.
    [
      ['--cluster-labels=env=prod,broken,c=d=e,zone=a'],
      ['--cluster-labels: "broken" is not key=value; skipped', '--cluster-labels: "c=d=e" is not key=value; skipped'],
    ],
    // The Go agent's process-wide gate knows the Kubernetes gates: accepted, without effect here.
    [
      ['--feature-gates=AppPusher=true,APIResponseCompression=true,LoggingBetaOptions=false,ComponentSLIs=true'],
      [
        '--feature-gates: APIResponseCompression=true is a Kubernetes feature gate; it has no effect on this agent',
        '--feature-gates: LoggingBetaOptions=false is a Kubernetes feature gate; it has no effect on this agent',
        '--feature-gates: ComponentSLIs=true is a Kubernetes feature gate; it has no effect on this agent',
      ],
    ],
    // Hidden in the Go agent and ignored: a Lease is always used.
    [
      ['--leader-elect-resource-lock=configmaps'],
      ['--leader-elect-resource-lock=configmaps is ignored: a Lease is always used, as by the Go agent'],
    ],
    // The built-in predictor is served; an external one is published.
    [['--feature-gates=Predictor=true'], []],
    [['--feature-gates=Predictor=true', '--predictor-addr=http://predictor.example:8080'], []],
    [['--leader-elect-resource-lock=leases', '--cluster-labels=a=b', '--tls-min-version=VersionTLS10'], []],
  ])('%j is accepted with the warnings %j', (argv, expected) => {
    const inv = parseCommandLine([...required, ...argv]);
    expect(inv.kind).toBe('run');
    expect(inv.kind === 'run' ? inv.warnings : undefined).toEqual(expected);
  });

  it('keeps the labels that are key=value, and only those', () => {
    expect(config('--cluster-labels=env=prod,broken,c=d=e,zone=a').registration.clusterLabels).toEqual({
      env: 'prod',
      zone: 'a',
    });
  });

  it.each([
    ['', 'TLSv1.2'],
    ['VersionTLS10', 'TLSv1'],
    ['VersionTLS11', 'TLSv1.1'],
    ['VersionTLS12', 'TLSv1.2'],
    ['VersionTLS13', 'TLSv1.3'],
  ])('--tls-min-version=%s serves %s at least', (flag, node) => {
    expect(config(`--tls-min-version=${flag}`).serving.tlsMinVersion).toBe(node);
  });

  it('reports all problems of one command line at once', () => {
    expect(
      errors(
        '--cluster-reg-parent-url=nope',
        '--cluster-reg-token=x',
        '--cluster-sync-mode=Sideways',
        '--cluster-reg-type=T',
      ),
    ).toHaveLength(4);
  });

  it('never echoes the token in an error', () => {
    const secret = 'abcdef.0123456789abcdeZ';
    const all = errors('--cluster-reg-parent-url=https://p', `--cluster-reg-token=${secret}`).join('\n');
    expect(all).toContain('--cluster-reg-token is malformed');
    expect(all).not.toContain('0123456789');
  });

  it('lets --help and --version win over missing required flags', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version', format: 'short' });
    expect(errors('--version=xml')).toEqual([
      'invalid argument "xml" for "--version" flag: must be short, json or yaml',
    ]);
  });
});

describe('describeFlags', () => {
  it('lists every effective value with the token redacted', () => {
    const d = describeFlags([...required, '--cluster-status-update-frequency=90s']);
    expect(d['cluster-reg-token']).toBe('<redacted>');
    expect(d['cluster-status-update-frequency']).toBe('1m30s');
    expect(d['leader-elect-lease-duration']).toBe('15s');
    expect(d['labels-aggregate-prefix']).toBe('[node.clusternet.io/]');
    expect(JSON.stringify(d)).not.toContain(token);
  });
});

describe('--help', () => {
  const help = renderUsage();
  it('groups flags in the Go agent’s sections, in order', () => {
    const sections = [...help.matchAll(/^(.+) flags:$/gm)].map((m) => m[1]);
    expect(sections).toEqual([
      'Cluster registration', 'Cluster management', 'Cluster health status', 'Cluster capacity predictor',
      'Leader election', 'Misc', 'Secure serving', 'Profiling', 'Metrics', 'Logs', 'Feature gate',
      'Extensions (this agent only)', 'Global',
    ]); // prettier-ignore
  });

  it('shows types and defaults as pflag does, and no secret or hidden flag', () => {
    expect(help).toMatch(/--cluster-status-update-frequency duration +.*\(default 3m0s\)/);
    expect(help).toMatch(/--cluster-reg-name-prefix string +.*\(default "clusternet-cluster"\)/);
    expect(help).toMatch(/--leader-elect +.*\(default true\)/);
    expect(help).toMatch(/-v, --v int +.*\(default 2\)/);
    expect(help).toMatch(/--version version\[=short\]/);
    expect(help).not.toMatch(/leader-elect-resource-lock|log_dir|log-dir/);
  });
});
