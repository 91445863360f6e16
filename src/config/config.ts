// The agent's configuration: parsed once from argv into a frozen, validated object. Every invalid input is
// reported at once, one line each. The Go agent reads no configuration from the environment (its chart
// passes `$(VAR)` references that the kubelet expands into the args), and neither do we.

import { commaItems, parseArgv, flagValue, type ParsedArgv } from './argv.ts';
import { defaultFeatureGates, parseFeatureGates, type FeatureGates } from './feature-gates.ts';
import { flagSpecs } from './flags.ts';
import { formatGoDuration } from './go-duration.ts';
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
    /** `--insecure-serving`: plain HTTP, for local development. */
    readonly insecure: boolean;
  };
  readonly logging: { readonly verbosity: number; readonly format: 'text' | 'json' };
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

function buildConfig(parsed: ParsedArgv, errors: string[], warnings: string[]): AgentConfig {
  const str = (name: string): string => String(flagValue(parsed, name));
  const num = (name: string): number => Number(flagValue(parsed, name));
  const bool = (name: string): boolean => flagValue(parsed, name) === true;
  const list = (name: string): readonly string[] => flagValue(parsed, name) as readonly string[];
  const check = (ok: boolean, message: string): void => {
    if (!ok) errors.push(message);
  };

  const gates = parseFeatureGates(str('feature-gates'), defaultFeatureGates);
  errors.push(...gates.errors);
  warnings.push(...gates.warnings);

  // Registration.
  const parentUrl = str('cluster-reg-parent-url').trim();
  if (parentUrl === '') {
    errors.push('--cluster-reg-parent-url is required: the URL of the parent cluster, e.g. https://192.168.10.10:6443');
  } else {
    const url = URL.canParse(parentUrl) ? new URL(parentUrl) : undefined;
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') {
      errors.push(
        `--cluster-reg-parent-url ${JSON.stringify(parentUrl)} is not a valid URL: expected https://<host>[:<port>][/<path>]`,
      );
    } else {
      check(url.search === '' && url.hash === '', '--cluster-reg-parent-url must not have a query or fragment');
    }
  }
  const token = str('cluster-reg-token').trim();
  if (token === '') {
    errors.push('--cluster-reg-token is required: a bootstrap token (<6 chars>.<16 chars>) or a ServiceAccount token');
  } else {
    check(
      bootstrapToken.test(token) || jwt.test(token),
      '--cluster-reg-token is malformed: expected a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) or a ServiceAccount token (JWT)',
    );
  }
  const clusterName = str('cluster-reg-name').trim();
  if (clusterName !== '') {
    check(
      clusterName.length <= maxClusterName,
      `--cluster-reg-name is ${String(clusterName.length)} characters long; the maximum is ${String(maxClusterName)}`,
    );
    check(
      dns1123Subdomain.test(clusterName),
      `--cluster-reg-name ${JSON.stringify(clusterName)} must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character`,
    );
  }
  const prefix = str('cluster-reg-name-prefix').trim();
  check(
    prefix.length > 0 && prefix.length <= maxClusterName - generatedSuffixLength,
    `--cluster-reg-name-prefix must be 1 to ${String(maxClusterName - generatedSuffixLength)} characters long (a generated name adds 6 and may not exceed ${String(maxClusterName)})`,
  );
  check(
    prefix === '' || dns1123Subdomain.test(prefix),
    `--cluster-reg-name-prefix ${JSON.stringify(prefix)} must consist of lower case alphanumeric characters, '-' or '.'`,
  );
  const clusterNamespace = str('cluster-reg-namespace').trim();
  check(
    clusterNamespace === '' || (clusterNamespace.length <= 63 && dns1123Label.test(clusterNamespace)),
    `--cluster-reg-namespace ${JSON.stringify(clusterNamespace)} must be a DNS label: at most 63 lower case alphanumeric characters or '-'`,
  );
  const clusterType = str('cluster-reg-type');
  check(
    clusterType === 'StandardCluster' || clusterType === 'EdgeCluster',
    `--cluster-reg-type must be StandardCluster or EdgeCluster, not ${JSON.stringify(clusterType)}`,
  );
  const syncMode = str('cluster-sync-mode');
  check(
    syncMode === 'Pull' || syncMode === 'Push' || syncMode === 'Dual',
    `--cluster-sync-mode must be Push, Pull or Dual, not ${JSON.stringify(syncMode)}`,
  );
  check(
    syncMode !== 'Push' || gates.gates.AppPusher,
    '--cluster-sync-mode=Push requires the feature gate AppPusher=true',
  );
  const labels = parseClusterLabels(str('cluster-labels'));
  errors.push(...labels.errors);
  warnings.push(...labels.warnings);
  const clusterLabels = labels.labels;

  // Management, status, predictor.
  const threshold = num('labels-aggregate-threshold');
  check(
    threshold >= 0 && threshold <= 1,
    `--labels-aggregate-threshold must be between 0 and 1, not ${String(threshold)}`,
  );
  for (const name of [
    'cluster-status-update-frequency',
    'cluster-status-collect-frequency',
    'log-flush-frequency',
    'parent-credentials-check-interval',
  ]) {
    check(num(name) > 0, `--${name} must be a positive duration, not ${formatGoDuration(num(name))}`);
  }
  const predictorPort = num('predictor-port');
  check(
    predictorPort >= 1 && predictorPort <= 65535,
    `--predictor-port must be between 1 and 65535, not ${String(predictorPort)}`,
  );
  const predictorAddr = str('predictor-addr');
  check(
    predictorAddr === '' || URL.canParse(predictorAddr),
    `--predictor-addr ${JSON.stringify(predictorAddr)} is not a valid URL`,
  );

  // Leader election (client-go's rules).
  const lease = num('leader-elect-lease-duration');
  const renew = num('leader-elect-renew-deadline');
  const retry = num('leader-elect-retry-period');
  check(
    lease > renew,
    `--leader-elect-lease-duration (${formatGoDuration(lease)}) must be greater than --leader-elect-renew-deadline (${formatGoDuration(renew)})`,
  );
  check(retry > 0, '--leader-elect-retry-period must be a positive duration');
  // The Lease holds the duration in whole seconds as an int32; client-go would write a wrapped value.
  check(
    lease <= leaseDurationLimitMs,
    `--leader-elect-lease-duration (${formatGoDuration(lease)}) must be at most ${formatGoDuration(leaseDurationLimitMs)} (the Lease's leaseDurationSeconds is an int32)`,
  );
  check(
    renew > 1.2 * retry,
    `--leader-elect-renew-deadline (${formatGoDuration(renew)}) must be greater than 1.2 × --leader-elect-retry-period (${formatGoDuration(retry)})`,
  );
  // Hidden and ignored by the Go agent, which always uses a Lease: so do we, saying so.
  const lock = str('leader-elect-resource-lock');
  if (lock !== 'lease' && lock !== 'leases') {
    warnings.push(`--leader-elect-resource-lock=${lock} is ignored: a Lease is always used, as by the Go agent`);
  }
  const leaseName = str('leader-elect-resource-name');
  check(
    dns1123Subdomain.test(leaseName) && leaseName.length <= 253,
    `--leader-elect-resource-name ${JSON.stringify(leaseName)} is not a valid object name`,
  );
  const systemNamespace = str('leader-elect-resource-namespace');
  check(
    dns1123Label.test(systemNamespace) && systemNamespace.length <= 63,
    `--leader-elect-resource-namespace ${JSON.stringify(systemNamespace)} is not a valid namespace name`,
  );

  // Child client, serving, logging.
  const qps = num('kube-api-qps');
  const burst = num('kube-api-burst');
  check(qps >= 0, `--kube-api-qps must not be negative, not ${String(qps)}`);
  check(
    burst >= 0 && burst <= 2 ** 31 - 1,
    `--kube-api-burst must be a non-negative 32-bit integer, not ${String(burst)}`,
  );
  const securePort = num('secure-port');
  check(securePort >= 0 && securePort <= 65535, `--secure-port must be between 0 and 65535, not ${String(securePort)}`);
  const tlsCert = str('tls-cert-file');
  const tlsKey = str('tls-private-key-file');
  check((tlsCert === '') === (tlsKey === ''), '--tls-cert-file and --tls-private-key-file must be given together');
  check(str('helm-binary') !== '', '--helm-binary must not be empty');
  const inspector = str('statechart-inspector');
  check(
    inspector === '' || /^wss?:\/\/[^/\s]+/.test(inspector),
    `--statechart-inspector must be a ws:// or wss:// URL, not ${JSON.stringify(inspector)}`,
  );
  const tlsMin = str('tls-min-version');
  const tlsMinVersion = tlsVersions[tlsMin];
  check(
    tlsMinVersion !== undefined,
    `--tls-min-version: unknown tls version ${JSON.stringify(tlsMin)}: one of VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13`,
  );
  const verbosity = num('v');
  check(verbosity >= 0, `-v must not be negative, not ${String(verbosity)}`);
  const format = str('logging-format');
  check(format === 'text' || format === 'json', `--logging-format must be text or json, not ${JSON.stringify(format)}`);
  for (const target of list('tunnel-allowed-targets')) {
    const port = Number(/:(\d+)$/.exec(target)?.[1] ?? 0);
    check(
      target === '*' || (port >= 1 && port <= 65535 && target.length > String(port).length + 1),
      `--tunnel-allowed-targets: ${JSON.stringify(target)} is not host:port or *`,
    );
  }

  return {
    registration: {
      parentUrl: parentUrl.replace(/\/+$/, ''),
      parentUrlAsGiven: parentUrl,
      token,
      clusterName: clusterName === '' ? undefined : clusterName,
      clusterNamePrefix: prefix,
      clusterNamespace: clusterNamespace === '' ? undefined : clusterNamespace,
      clusterType: clusterType as ClusterType,
      syncMode: syncMode as SyncMode,
      clusterLabels,
    },
    management: { labelsAggregateThreshold: threshold, labelsAggregatePrefixes: list('labels-aggregate-prefix') },
    status: {
      updateFrequencyMs: num('cluster-status-update-frequency'),
      collectFrequencyMs: num('cluster-status-collect-frequency'),
      useMetricsServer: bool('use-metrics-server'),
    },
    predictor: { addr: predictorAddr, directAccess: bool('predictor-direct-access'), port: predictorPort },
    leaderElection: {
      enabled: bool('leader-elect'),
      leaseDurationMs: lease,
      renewDeadlineMs: renew,
      retryPeriodMs: retry,
      leaseName,
    },
    systemNamespace,
    child: { kubeconfig: str('kubeconfig') === '' ? undefined : str('kubeconfig'), qps, burst },
    tunnel: { logging: bool('enable-tunnel-logging') },
    serving: {
      bindAddress: str('bind-address'),
      securePort,
      certDir: str('cert-dir'),
      tlsCertFile: tlsCert,
      tlsPrivateKeyFile: tlsKey,
      tlsMinVersion: tlsMinVersion ?? 'TLSv1.2',
      insecure: bool('insecure-serving'),
    },
    logging: { verbosity, format: format as 'text' | 'json' },
    featureGates: gates.gates,
    extensions: {
      credentialCheckIntervalMs: num('parent-credentials-check-interval'),
      tunnelAllowedTargets: list('tunnel-allowed-targets'),
      statechartInspector: inspector === '' ? undefined : inspector,
      helmBinary: str('helm-binary'),
    },
  };
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
