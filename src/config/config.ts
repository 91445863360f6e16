// The agent's configuration: parsed once from argv into a frozen, validated object. Every invalid input is
// reported at once, one line each. The Go agent reads no configuration from the environment (its chart
// passes `$(VAR)` references that the kubelet expands into the args), and neither do we.

import { commaItems, parseArgv, flagValue, type ParsedArgv } from './argv.ts';
import { defaultFeatureGates, parseFeatureGates, type FeatureGates } from './feature-gates.ts';
import { flagSpecs } from './flags.ts';
import { formatGoDuration } from './go-duration.ts';
import { cipherList, parseSniCertKey, type SniCertKey } from './tls.ts';
import { redactUrls } from '../logging/redact-url.ts';
import {
  bootstrapToken,
  dns1123Label,
  dns1123Subdomain,
  generatedSuffixLength,
  jwt,
  labelKey,
  labelValue,
  maxClusterName,
} from './patterns.ts';

/** The longest lease duration a Lease can hold: 2^31-1 whole seconds. */
const leaseDurationLimitMs = (2 ** 31 - 1) * 1000;

export type SyncMode = 'Pull' | 'Push' | 'Dual';
export type ClusterType = 'StandardCluster' | 'EdgeCluster';
export type VersionFormat = 'short' | 'json' | 'yaml';

export interface AgentConfig {
  readonly registration: {
    /** `--cluster-reg-parent-url` without trailing slashes: the base of every request to the parent. */
    readonly parentUrl: string;
    /**
     * `--cluster-reg-parent-url` as given (surrounding blanks trimmed): what the `parent-cluster` Secret
     * records as `apiserver-advertise-url`, so a Go agent taking over compares equal (spec §3.5).
     */
    readonly parentUrlAsGiven: string;
    /** Bootstrap token or ServiceAccount token. A secret: never logged. */
    readonly token: string;
    readonly clusterName: string | undefined;
    readonly clusterNamePrefix: string;
    readonly clusterNamespace: string | undefined;
    readonly clusterType: ClusterType;
    readonly syncMode: SyncMode;
    readonly clusterLabels: Readonly<Record<string, string>>;
  };
  readonly management: {
    readonly labelsAggregateThreshold: number;
    readonly labelsAggregatePrefixes: readonly string[];
  };
  readonly status: {
    readonly updateFrequencyMs: number;
    readonly collectFrequencyMs: number;
    readonly useMetricsServer: boolean;
  };
  readonly predictor: { readonly addr: string; readonly directAccess: boolean; readonly port: number };
  readonly leaderElection: {
    readonly enabled: boolean;
    readonly leaseDurationMs: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
    readonly leaseName: string;
  };
  /** The child namespace holding the Lease and the stored parent credentials. */
  readonly systemNamespace: string;
  readonly child: { readonly kubeconfig: string | undefined; readonly qps: number; readonly burst: number };
  readonly tunnel: { readonly logging: boolean };
  readonly serving: {
    readonly bindAddress: string;
    readonly securePort: number;
    readonly certDir: string;
    readonly tlsCertFile: string;
    readonly tlsPrivateKeyFile: string;
    /** `--tls-min-version` as Node names it (empty flag: TLS 1.2, Go's default for servers). */
    readonly tlsMinVersion: TlsMinVersion;
    /** `--tls-cipher-suites` as an OpenSSL cipher list; undefined: Node's defaults. */
    readonly cipherSuites: string | undefined;
    /** `--tls-sni-cert-key`: certificates served by the name the client asks for (SNI). */
    readonly sniCertKeys: readonly SniCertKey[];
    /** `--permit-port-sharing`: bind with SO_REUSEPORT. */
    readonly reusePort: boolean;
    /** `--insecure-serving`: plain HTTP, for local development. */
    readonly insecure: boolean;
  };
  /** `--profiling`: CPU and heap profiles under /debug/pprof/ (pprof format). */
  readonly profiling: { readonly enabled: boolean };
  /** `--disabled-metrics`: names of metrics not to serve. */
  readonly metrics: { readonly disabled: readonly string[] };
  readonly logging: {
    readonly verbosity: number;
    readonly format: 'text' | 'json';
    /** `--log-json-split-stream`/`--log-text-split-stream` (of the format used): errors to stderr. */
    readonly splitStream: boolean;
    /** `--vmodule`: verbosity per component. */
    readonly vmodule: readonly VmoduleSetting[];
  };
  readonly featureGates: FeatureGates;
  /** Behaviour the Go agent does not have. */
  readonly extensions: {
    readonly credentialCheckIntervalMs: number;
    /** Tunnel dial targets (host:port, or `*`) allowed besides the child apiserver. */
    readonly tunnelAllowedTargets: readonly string[];
    /** `--statechart-inspector`: WebSocket URL of a Stately inspector relay; undefined when off. */
    readonly statechartInspector: string | undefined;
    /** `--helm-binary`: the helm v3 binary for HelmReleases. */
    readonly helmBinary: string;
  };
}

/** One `--vmodule` item: components matching `pattern` log at `verbosity`. */
export interface VmoduleSetting {
  readonly pattern: string;
  readonly verbosity: number;
}

export type TlsMinVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** The Go names of `--tls-min-version` (k8s serving options), as Node names them. */
export const tlsVersions: Readonly<Record<string, TlsMinVersion>> = {
  '': 'TLSv1.2',
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

export type Invocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'version'; readonly format: VersionFormat }
  /** `warnings`: what was accepted as the Go agent accepts it, but deserves a word (logged at start-up). */
  | { readonly kind: 'run'; readonly config: AgentConfig; readonly warnings: readonly string[] }
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

export function parseCommandLine(argv: readonly string[]): Invocation {
  const parsed = parseArgv(argv);
  if (parsed.errors.length > 0) return { kind: 'invalid', errors: parsed.errors };
  if (flagValue(parsed, 'help') === true) return { kind: 'help' };
  const version = String(flagValue(parsed, 'version'));
  if (version !== '') {
    if (version === 'short' || version === 'json' || version === 'yaml') return { kind: 'version', format: version };
    return {
      kind: 'invalid',
      errors: [`invalid argument ${JSON.stringify(version)} for "--version" flag: must be short, json or yaml`],
    };
  }
  const errors: string[] = [];
  const warnings: string[] = [];
  const config = buildConfig(parsed, errors, warnings);
  return errors.length > 0
    ? { kind: 'invalid', errors }
    : { kind: 'run', config: deepFreeze(config), warnings: Object.freeze(warnings) };
}

/**
 * `--cluster-labels` (`k1=v1,k2=v2`): as the Go agent, an item without exactly one `=` is skipped with a
 * warning. Keys and values must be valid label keys and values (the Go agent does not check them, but
 * the approver copies them onto the ManagedCluster, which the apiserver then refuses: registration would
 * wait forever).
 */
export function parseClusterLabels(text: string): {
  labels: Record<string, string>;
  errors: string[];
  warnings: string[];
} {
  const labels: Record<string, string> = {};
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const item of commaItems(text)) {
    const parts = item.split('=');
    const [key = '', value = ''] = parts;
    if (parts.length !== 2) {
      warnings.push(`--cluster-labels: ${JSON.stringify(item)} is not key=value; skipped`);
    } else if (
      !labelKey.test(key) ||
      (key.split('/').at(-1) ?? '').length > 63 ||
      !labelValue.test(value) ||
      value.length > 63
    ) {
      errors.push(`--cluster-labels: ${JSON.stringify(item)} is not a valid Kubernetes label`);
    } else {
      labels[key] = value;
    }
  }
  return { labels, errors, warnings };
}

/** Reads flag values and collects what is wrong or worth a word, for the sections below. */
interface Reader {
  str(name: string): string;
  num(name: string): number;
  bool(name: string): boolean;
  list(name: string): readonly string[];
  /** Whether the flag was on the command line. */
  given(name: string): boolean;
  check(ok: boolean, message: string): void;
  readonly errors: string[];
  readonly warnings: string[];
}

function reader(parsed: ParsedArgv, errors: string[], warnings: string[]): Reader {
  return {
    str: (name) => String(flagValue(parsed, name)),
    num: (name) => Number(flagValue(parsed, name)),
    bool: (name) => flagValue(parsed, name) === true,
    list: (name) => flagValue(parsed, name) as readonly string[],
    given: (name) => parsed.given.has(name),
    check: (ok, message) => {
      if (!ok) errors.push(message);
    },
    errors,
    warnings,
  };
}

function buildConfig(parsed: ParsedArgv, errors: string[], warnings: string[]): AgentConfig {
  const r = reader(parsed, errors, warnings);
  const gates = parseFeatureGates(r.str('feature-gates'), defaultFeatureGates);
  errors.push(...gates.errors);
  warnings.push(...gates.warnings);
  // In the order of the flags' sections, so errors and warnings come in that order.
  const registration = registrationSection(r, gates.gates);
  const management = managementSection(r);
  const predictorPort = r.num('predictor-port');
  r.check(
    predictorPort >= 1 && predictorPort <= 65535,
    `--predictor-port must be between 1 and 65535, not ${String(predictorPort)}`,
  );
  const predictorAddr = r.str('predictor-addr');
  r.check(
    predictorAddr === '' || URL.canParse(predictorAddr),
    `--predictor-addr ${JSON.stringify(predictorAddr)} is not a valid URL`,
  );
  const leaderElection = leaderElectionSection(r);
  const child = childSection(r);
  const serving = servingSection(r);
  const logging = loggingSection(r);
  const extensions = extensionsSection(r);
  warnings.push(...meaninglessFlagWarnings(r));
  return {
    registration,
    management,
    status: {
      updateFrequencyMs: r.num('cluster-status-update-frequency'),
      collectFrequencyMs: r.num('cluster-status-collect-frequency'),
      useMetricsServer: r.bool('use-metrics-server'),
    },
    predictor: { addr: predictorAddr, directAccess: r.bool('predictor-direct-access'), port: predictorPort },
    leaderElection: leaderElection.election,
    systemNamespace: leaderElection.systemNamespace,
    child,
    tunnel: { logging: r.bool('enable-tunnel-logging') },
    serving,
    profiling: { enabled: r.bool('profiling') },
    metrics: {
      disabled: r
        .list('disabled-metrics')
        .map((n) => n.trim())
        .filter(Boolean),
    },
    logging,
    featureGates: gates.gates,
    extensions,
  };
}

function registrationSection(r: Reader, gates: FeatureGates): AgentConfig['registration'] {
  const parentUrl = r.str('cluster-reg-parent-url').trim();
  checkParentUrl(r, parentUrl);
  const token = r.str('cluster-reg-token').trim();
  if (token === '') {
    r.errors.push(
      '--cluster-reg-token is required: a bootstrap token (<6 chars>.<16 chars>) or a ServiceAccount token',
    );
  } else {
    r.check(
      bootstrapToken.test(token) || jwt.test(token),
      '--cluster-reg-token is malformed: expected a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) or a ServiceAccount token (JWT)',
    );
  }
  const { clusterName, prefix } = clusterNames(r);
  const clusterNamespace = r.str('cluster-reg-namespace').trim();
  r.check(
    clusterNamespace === '' || (clusterNamespace.length <= 63 && dns1123Label.test(clusterNamespace)),
    `--cluster-reg-namespace ${JSON.stringify(clusterNamespace)} must be a DNS label: at most 63 lower case alphanumeric characters or '-'`,
  );
  const clusterType = r.str('cluster-reg-type');
  r.check(
    clusterType === 'StandardCluster' || clusterType === 'EdgeCluster',
    `--cluster-reg-type must be StandardCluster or EdgeCluster, not ${JSON.stringify(clusterType)}`,
  );
  const syncMode = r.str('cluster-sync-mode');
  r.check(
    syncMode === 'Pull' || syncMode === 'Push' || syncMode === 'Dual',
    `--cluster-sync-mode must be Push, Pull or Dual, not ${JSON.stringify(syncMode)}`,
  );
  r.check(syncMode !== 'Push' || gates.AppPusher, '--cluster-sync-mode=Push requires the feature gate AppPusher=true');
  const labels = parseClusterLabels(r.str('cluster-labels'));
  r.errors.push(...labels.errors);
  r.warnings.push(...labels.warnings);
  return {
    parentUrl: parentUrl.replace(/\/+$/, ''),
    parentUrlAsGiven: parentUrl,
    token,
    clusterName: clusterName === '' ? undefined : clusterName,
    clusterNamePrefix: prefix,
    clusterNamespace: clusterNamespace === '' ? undefined : clusterNamespace,
    clusterType: clusterType as ClusterType,
    syncMode: syncMode as SyncMode,
    clusterLabels: labels.labels,
  };
}

function checkParentUrl(r: Reader, parentUrl: string): void {
  if (parentUrl === '') {
    r.errors.push(
      '--cluster-reg-parent-url is required: the URL of the parent cluster, e.g. https://192.168.10.10:6443',
    );
    return;
  }
  const url = URL.canParse(parentUrl) ? new URL(parentUrl) : undefined;
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') {
    r.errors.push(
      `--cluster-reg-parent-url ${JSON.stringify(parentUrl)} is not a valid URL: expected https://<host>[:<port>][/<path>]`,
    );
  } else {
    r.check(url.search === '' && url.hash === '', '--cluster-reg-parent-url must not have a query or fragment');
  }
}

function clusterNames(r: Reader): { clusterName: string; prefix: string } {
  const clusterName = r.str('cluster-reg-name').trim();
  if (clusterName !== '') {
    r.check(
      clusterName.length <= maxClusterName,
      `--cluster-reg-name is ${String(clusterName.length)} characters long; the maximum is ${String(maxClusterName)}`,
    );
    r.check(
      dns1123Subdomain.test(clusterName),
      `--cluster-reg-name ${JSON.stringify(clusterName)} must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character`,
    );
  }
  const prefix = r.str('cluster-reg-name-prefix').trim();
  r.check(
    prefix.length > 0 && prefix.length <= maxClusterName - generatedSuffixLength,
    `--cluster-reg-name-prefix must be 1 to ${String(maxClusterName - generatedSuffixLength)} characters long (a generated name adds 6 and may not exceed ${String(maxClusterName)})`,
  );
  r.check(
    prefix === '' || dns1123Subdomain.test(prefix),
    `--cluster-reg-name-prefix ${JSON.stringify(prefix)} must consist of lower case alphanumeric characters, '-' or '.'`,
  );
  return { clusterName, prefix };
}

function managementSection(r: Reader): AgentConfig['management'] {
  const threshold = r.num('labels-aggregate-threshold');
  r.check(
    threshold >= 0 && threshold <= 1,
    `--labels-aggregate-threshold must be between 0 and 1, not ${String(threshold)}`,
  );
  for (const name of [
    'cluster-status-update-frequency',
    'cluster-status-collect-frequency',
    'log-flush-frequency',
    'parent-credentials-check-interval',
  ]) {
    r.check(r.num(name) > 0, `--${name} must be a positive duration, not ${formatGoDuration(r.num(name))}`);
  }
  return { labelsAggregateThreshold: threshold, labelsAggregatePrefixes: r.list('labels-aggregate-prefix') };
}

/** Leader election, with client-go's rules. */
function leaderElectionSection(r: Reader): {
  election: AgentConfig['leaderElection'];
  systemNamespace: string;
} {
  const lease = r.num('leader-elect-lease-duration');
  const renew = r.num('leader-elect-renew-deadline');
  const retry = r.num('leader-elect-retry-period');
  r.check(
    lease > renew,
    `--leader-elect-lease-duration (${formatGoDuration(lease)}) must be greater than --leader-elect-renew-deadline (${formatGoDuration(renew)})`,
  );
  r.check(retry > 0, '--leader-elect-retry-period must be a positive duration');
  // The Lease holds the duration in whole seconds as an int32; client-go would write a wrapped value.
  r.check(
    lease <= leaseDurationLimitMs,
    `--leader-elect-lease-duration (${formatGoDuration(lease)}) must be at most ${formatGoDuration(leaseDurationLimitMs)} (the Lease's leaseDurationSeconds is an int32)`,
  );
  r.check(
    renew > 1.2 * retry,
    `--leader-elect-renew-deadline (${formatGoDuration(renew)}) must be greater than 1.2 × --leader-elect-retry-period (${formatGoDuration(retry)})`,
  );
  // Hidden and ignored by the Go agent, which always uses a Lease: so do we, saying so.
  const lock = r.str('leader-elect-resource-lock');
  if (lock !== 'lease' && lock !== 'leases') {
    r.warnings.push(`--leader-elect-resource-lock=${lock} is ignored: a Lease is always used, as by the Go agent`);
  }
  const leaseName = r.str('leader-elect-resource-name');
  r.check(
    dns1123Subdomain.test(leaseName) && leaseName.length <= 253,
    `--leader-elect-resource-name ${JSON.stringify(leaseName)} is not a valid object name`,
  );
  const systemNamespace = r.str('leader-elect-resource-namespace');
  r.check(
    dns1123Label.test(systemNamespace) && systemNamespace.length <= 63,
    `--leader-elect-resource-namespace ${JSON.stringify(systemNamespace)} is not a valid namespace name`,
  );
  return {
    election: {
      enabled: r.bool('leader-elect'),
      leaseDurationMs: lease,
      renewDeadlineMs: renew,
      retryPeriodMs: retry,
      leaseName,
    },
    systemNamespace,
  };
}

function childSection(r: Reader): AgentConfig['child'] {
  const qps = r.num('kube-api-qps');
  const burst = r.num('kube-api-burst');
  r.check(qps >= 0, `--kube-api-qps must not be negative, not ${String(qps)}`);
  r.check(
    burst >= 0 && burst <= 2 ** 31 - 1,
    `--kube-api-burst must be a non-negative 32-bit integer, not ${String(burst)}`,
  );
  const kubeconfig = r.str('kubeconfig');
  return { kubeconfig: kubeconfig === '' ? undefined : kubeconfig, qps, burst };
}

function servingSection(r: Reader): AgentConfig['serving'] {
  const securePort = r.num('secure-port');
  r.check(
    securePort >= 0 && securePort <= 65535,
    `--secure-port must be between 0 and 65535, not ${String(securePort)}`,
  );
  const tlsCert = r.str('tls-cert-file');
  const tlsKey = r.str('tls-private-key-file');
  r.check((tlsCert === '') === (tlsKey === ''), '--tls-cert-file and --tls-private-key-file must be given together');
  const tlsMin = r.str('tls-min-version');
  const tlsMinVersion = tlsVersions[tlsMin];
  r.check(
    tlsMinVersion !== undefined,
    `--tls-min-version: unknown tls version ${JSON.stringify(tlsMin)}: one of VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13`,
  );
  const ciphers = cipherList(r.list('tls-cipher-suites'));
  r.errors.push(...ciphers.errors);
  const sniCertKeys: SniCertKey[] = [];
  for (const text of r.list('tls-sni-cert-key')) {
    const sni = parseSniCertKey(text);
    if ('error' in sni) r.errors.push(sni.error);
    else sniCertKeys.push(sni);
  }
  return {
    bindAddress: r.str('bind-address'),
    securePort,
    certDir: r.str('cert-dir'),
    tlsCertFile: tlsCert,
    tlsPrivateKeyFile: tlsKey,
    tlsMinVersion: tlsMinVersion ?? 'TLSv1.2',
    cipherSuites: ciphers.ciphers,
    sniCertKeys,
    reusePort: r.bool('permit-port-sharing'),
    insecure: r.bool('insecure-serving'),
  };
}

function loggingSection(r: Reader): AgentConfig['logging'] {
  const verbosity = r.num('v');
  r.check(verbosity >= 0, `-v must not be negative, not ${String(verbosity)}`);
  const format = r.str('logging-format');
  r.check(
    format === 'text' || format === 'json',
    `--logging-format must be text or json, not ${JSON.stringify(format)}`,
  );
  const vmodule = parseVmodule(r.str('vmodule'));
  r.errors.push(...vmodule.errors);
  return {
    verbosity,
    format: format as 'text' | 'json',
    splitStream: r.bool(format === 'text' ? 'log-text-split-stream' : 'log-json-split-stream'),
    vmodule: vmodule.settings,
  };
}

/**
 * `--vmodule=pattern=N,...`: klog matches patterns against source file names; the agent's equivalent
 * of a file is a component (`registration`, `heartbeat`, `tunnel`, `leadership`, `deployer`,
 * `transitions`, ...), so patterns (with `*` and `?`) are matched against component names.
 */
export function parseVmodule(text: string): { settings: VmoduleSetting[]; errors: string[] } {
  const settings: VmoduleSetting[] = [];
  const errors: string[] = [];
  for (const item of commaItems(text)) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (m === null) errors.push(`--vmodule: ${JSON.stringify(item)} is not pattern=N`);
    else settings.push({ pattern: (m[1] ?? '').trim(), verbosity: Number(m[2]) });
  }
  return { settings, errors };
}

function extensionsSection(r: Reader): AgentConfig['extensions'] {
  r.check(r.str('helm-binary') !== '', '--helm-binary must not be empty');
  const inspector = r.str('statechart-inspector');
  r.check(
    inspector === '' || /^wss?:\/\/[^/\s]+/.test(inspector),
    `--statechart-inspector must be a ws:// or wss:// URL, not ${JSON.stringify(inspector)}`,
  );
  for (const target of r.list('tunnel-allowed-targets')) {
    const port = Number(/:(\d+)$/.exec(target)?.[1] ?? 0);
    r.check(
      target === '*' || (port >= 1 && port <= 65535 && target.length > String(port).length + 1),
      `--tunnel-allowed-targets: ${JSON.stringify(target)} is not host:port or *`,
    );
  }
  return {
    credentialCheckIntervalMs: r.num('parent-credentials-check-interval'),
    tunnelAllowedTargets: r.list('tunnel-allowed-targets'),
    statechartInspector: inspector === '' ? undefined : inspector,
    helmBinary: r.str('helm-binary'),
  };
}

/**
 * Flags the Go agent has that mean nothing here, or less than there: one warning each at start-up when
 * given (docs/flags.md lists every flag and what becomes of it).
 */
export function meaninglessFlagWarnings(r: Pick<Reader, 'str' | 'num' | 'bool' | 'given'>): string[] {
  const out: string[] = [];
  const when = (cond: boolean, text: string): void => {
    if (cond) out.push(text);
  };
  when(
    r.given('permit-address-sharing'),
    '--permit-address-sharing has no effect: Node always binds listening sockets with SO_REUSEADDR',
  );
  when(
    r.num('http2-max-streams-per-connection') !== 0,
    '--http2-max-streams-per-connection has no effect: the health server speaks HTTP/1.1 only',
  );
  when(
    r.bool('contention-profiling'),
    '--contention-profiling has no effect: Node has no block or mutex profile (CPU and heap profiles are served with --profiling)',
  );
  when(
    r.given('show-hidden-metrics-for-version'),
    '--show-hidden-metrics-for-version has no effect: this agent has no hidden (deprecated) metrics',
  );
  when(
    r.given('allow-metric-labels') || r.given('allow-metric-labels-manifest'),
    '--allow-metric-labels and --allow-metric-labels-manifest have no effect: every label of the agent has a bounded set of values',
  );
  when(r.given('log-flush-frequency'), '--log-flush-frequency has no effect: log lines are written as they are logged');
  for (const name of ['log-text-info-buffer-size', 'log-json-info-buffer-size']) {
    when(r.str(name) !== '0', `--${name} has no effect: info lines are not buffered`);
  }
  for (const spec of flagSpecs) {
    when(spec.ignored === true && r.given(spec.name), `--${spec.name} has no effect: ${spec.usage} (klog of v0.7.0)`);
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Every flag with its effective value, secrets redacted: what the agent logs at start-up. */
export function describeFlags(argv: readonly string[]): Record<string, string> {
  const parsed = parseArgv(argv);
  const out: Record<string, string> = {};
  for (const spec of flagSpecs) {
    if (spec.ignored === true) continue;
    const v = flagValue(parsed, spec.name);
    out[spec.name] =
      spec.secret === true
        ? v === ''
          ? ''
          : '<redacted>'
        : spec.kind === 'duration'
          ? formatGoDuration(Number(v))
          : redactUrls(Array.isArray(v) ? `[${v.join(',')}]` : String(v));
  }
  return out;
}
