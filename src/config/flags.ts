// Every flag of the Go clusternet-agent (latest, v0.18.1) with its name, type, default and meaning, plus
// the v0.7.0-era names still found in deployments (klog's flags). Sections follow the Go agent's --help.

export type FlagKind =
  | 'string'
  | 'bool'
  | 'duration'
  | 'float'
  | 'int'
  | 'ip'
  /** Repeatable; each occurrence is one element; giving it replaces the default. */
  | 'stringArray'
  /** Comma-separated, repeatable. */
  | 'stringSlice'
  /** A string whose value may be omitted (`--version` = `--version=short`). */
  | 'optionalString';

export type FlagValue = string | number | boolean | readonly string[];

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly default: FlagValue;
  readonly section: string;
  readonly usage: string;
  readonly shorthand?: string;
  /** Accepted but not listed in --help. */
  readonly hidden?: boolean;
  /** The value is a credential: never printed, logged or echoed in an error. */
  readonly secret?: boolean;
  /** Value used when the flag is given without one (optionalString). */
  readonly noOptDefault?: string;
  /** Accepted for compatibility; has no effect in this agent. */
  readonly ignored?: boolean;
}

const f = (
  section: string,
  name: string,
  kind: FlagKind,
  def: FlagValue,
  usage: string,
  extra: Partial<FlagSpec> = {},
): FlagSpec => ({ section, name, kind, default: def, usage, ...extra });

const reg = 'Cluster registration';
const mgmt = 'Cluster management';
const health = 'Cluster health status';
const predictor = 'Cluster capacity predictor';
const le = 'Leader election';
const misc = 'Misc';
const serving = 'Secure serving';
const profiling = 'Profiling';
const metrics = 'Metrics';
const logs = 'Logs';
const gates = 'Feature gate';
const global = 'Global';
const legacy = 'Legacy (v0.7.0 klog flags: accepted, no effect)';
const extensions = 'Extensions (this agent only)';

export const flagSpecs: readonly FlagSpec[] = [
  f(
    reg,
    'cluster-reg-parent-url',
    'string',
    '',
    'The parent cluster url you want to register to, e.g. https://192.168.10.10:6443',
  ),
  f(
    reg,
    'cluster-reg-token',
    'string',
    '',
    'The bootstrap token (or ServiceAccount token) used to register with the parent cluster',
    {
      secret: true,
    },
  ),
  f(reg, 'cluster-reg-name', 'string', '', 'Specify the cluster registration name (at most 30 characters)'),
  f(
    reg,
    'cluster-reg-name-prefix',
    'string',
    'clusternet-cluster',
    'Name prefix of a generated cluster name when --cluster-reg-name is not set',
  ),
  f(
    reg,
    'cluster-reg-namespace',
    'string',
    '',
    'Specify the dedicated namespace in the parent cluster; generated when empty',
  ),
  f(reg, 'cluster-reg-type', 'string', 'StandardCluster', 'Cluster type: StandardCluster or EdgeCluster'),
  f(
    reg,
    'cluster-sync-mode',
    'string',
    'Pull',
    'Cluster sync mode: Push, Pull or Dual (Push needs the AppPusher feature gate)',
  ),
  f(mgmt, 'cluster-labels', 'string', '', 'Labels of the cluster, as key1=value1,key2=value2'),
  f(
    mgmt,
    'labels-aggregate-threshold',
    'float',
    0.8,
    'Fraction of worker nodes that must share a node label for it to be aggregated onto the ManagedCluster',
  ),
  f(
    mgmt,
    'labels-aggregate-prefix',
    'stringArray',
    ['node.clusternet.io/'],
    'Node label key prefixes eligible for aggregation (repeatable)',
  ),
  f(
    health,
    'cluster-status-update-frequency',
    'duration',
    '3m0s',
    'How often the cluster status is reported to the parent cluster',
  ),
  f(health, 'cluster-status-collect-frequency', 'duration', '20s', 'How often the cluster status is collected'),
  f(health, 'use-metrics-server', 'bool', false, 'Use metrics-server (metrics.k8s.io) for node and pod usage'),
  f(
    predictor,
    'predictor-addr',
    'string',
    '',
    'Address of an external capacity predictor; the built-in one is used when empty and Predictor is on',
  ),
  f(
    predictor,
    'predictor-direct-access',
    'bool',
    false,
    'Whether the scheduler can reach the predictor directly (else through the tunnel)',
  ),
  f(predictor, 'predictor-port', 'int', 8080, 'Port of the built-in predictor'),
  f(
    le,
    'leader-elect',
    'bool',
    true,
    'Start a leader election client and gain leadership before executing the main loop',
  ),
  f(
    le,
    'leader-elect-lease-duration',
    'duration',
    '15s',
    'How long non-leaders wait after observing a renewal before trying to take over',
  ),
  f(
    le,
    'leader-elect-renew-deadline',
    'duration',
    '10s',
    'How long the leader keeps trying to renew before it stops leading; less than the lease duration',
  ),
  f(
    le,
    'leader-elect-retry-period',
    'duration',
    '2s',
    'How long clients wait between attempts to acquire and renew leadership',
  ),
  f(
    le,
    'leader-elect-resource-lock',
    'string',
    'lease',
    'The type of resource object used for locking (always a Lease)',
    { hidden: true },
  ),
  f(
    le,
    'leader-elect-resource-name',
    'string',
    'clusternet-agent',
    'The name of the Lease used for locking; its UID is the cluster ID',
  ),
  f(
    le,
    'leader-elect-resource-namespace',
    'string',
    'clusternet-system',
    'The namespace of the Lease; also where the agent keeps its credentials',
  ),
  f(misc, 'kubeconfig', 'string', '', 'Path to a kubeconfig of the child cluster; in-cluster configuration when empty'),
  f(misc, 'kube-api-qps', 'float', 50, 'QPS for requests to the child cluster'),
  f(misc, 'kube-api-burst', 'int', 100, 'Burst for requests to the child cluster'),
  f(misc, 'enable-tunnel-logging', 'bool', false, 'Log every tunnel message (debug)'),
  f(serving, 'bind-address', 'ip', '0.0.0.0', 'The IP address on which to listen for --secure-port'),
  f(serving, 'secure-port', 'int', 10650, 'The port on which to serve HTTPS (health, metrics); 0 disables it'),
  f(serving, 'cert-dir', 'string', '', 'Directory of the TLS certificate; a self-signed one is generated when empty'),
  f(serving, 'tls-cert-file', 'string', '', 'File containing the default x509 certificate for HTTPS'),
  f(
    serving,
    'tls-private-key-file',
    'string',
    '',
    'File containing the default x509 private key matching --tls-cert-file',
  ),
  f(serving, 'tls-cipher-suites', 'stringSlice', [], 'Comma-separated list of cipher suites for the server'),
  f(
    serving,
    'tls-min-version',
    'string',
    '',
    'Minimum TLS version supported. Possible values: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13',
  ),
  f(
    serving,
    'tls-sni-cert-key',
    'stringArray',
    [],
    'A pair of x509 certificate and private key file paths, optionally with domain patterns',
  ),
  f(
    serving,
    'http2-max-streams-per-connection',
    'int',
    0,
    'Limit of HTTP/2 streams per connection; 0 uses the default',
  ),
  f(
    serving,
    'disable-http2-serving',
    'bool',
    false,
    'If true, HTTP2 serving will be disabled (the health server serves HTTP/1.1 only, so always)',
  ),
  f(serving, 'permit-port-sharing', 'bool', false, 'Use SO_REUSEPORT when binding the port'),
  f(serving, 'permit-address-sharing', 'bool', false, 'Use SO_REUSEADDR when binding the address'),
  f(profiling, 'profiling', 'bool', true, 'Enable profiling via web interface host:port/debug/pprof/'),
  f(profiling, 'contention-profiling', 'bool', false, 'Enable block profiling, if profiling is enabled'),
  f(metrics, 'show-hidden-metrics-for-version', 'string', '', 'The previous version for which to show hidden metrics'),
  f(metrics, 'disabled-metrics', 'stringSlice', [], 'Metrics to disable'),
  f(
    metrics,
    'allow-metric-labels',
    'stringSlice',
    [],
    'Allow-list of metric label values, as metric,label=value1,value2',
  ),
  f(metrics, 'allow-metric-labels-manifest', 'string', '', 'Path to a manifest of allowed metric label values'),
  f(logs, 'v', 'int', 2, 'Number for the log level verbosity', { shorthand: 'v' }),
  f(logs, 'vmodule', 'string', '', 'Comma-separated list of pattern=N settings for file-filtered logging'),
  // JSON by default (the Go agent's default is text): the agent's state-transition log is meant for
  // machines, and log format is not part of the protocol (spec §9.4).
  f(logs, 'logging-format', 'string', 'json', 'Sets the log format: json (one JSON object a line) or text (klog-like)'),
  f(logs, 'log-flush-frequency', 'duration', '5s', 'Maximum number of seconds between log flushes'),
  f(
    logs,
    'log-text-split-stream',
    'bool',
    false,
    'In text format, write error messages to stderr and info messages to stdout',
  ),
  f(
    logs,
    'log-text-info-buffer-size',
    'string',
    '0',
    'In text format with split output streams, the size of the info buffer',
  ),
  f(
    logs,
    'log-json-split-stream',
    'bool',
    false,
    'In JSON format, write error messages to stderr and info messages to stdout',
  ),
  f(
    logs,
    'log-json-info-buffer-size',
    'string',
    '0',
    'In JSON format with split output streams, the size of the info buffer',
  ),
  f(
    gates,
    'feature-gates',
    'string',
    '',
    'A set of key=value pairs for alpha features: SocketConnection, AppPusher, Recovery, Predictor, ...',
  ),
  f(
    extensions,
    'parent-credentials-check-interval',
    'duration',
    '1m0s',
    'How often the stored parent credentials are re-checked once registered; rejected ones trigger a new registration',
  ),
  f(
    extensions,
    'tunnel-allowed-targets',
    'stringSlice',
    [],
    'Addresses (host:port) the parent may dial through the websocket tunnel besides the child apiserver, which is always allowed; "*" allows every address, as the Go agent does',
  ),
  f(
    extensions,
    'helm-binary',
    'string',
    'helm',
    'The helm v3 binary that applies HelmReleases (a path, or a name looked up on PATH)',
  ),
  f(
    extensions,
    'insecure-serving',
    'bool',
    false,
    'Serve health and metrics over plain HTTP instead of HTTPS (local development only)',
  ),
  f(
    extensions,
    'statechart-inspector',
    'string',
    '',
    'WebSocket URL of a Stately inspector relay (e.g. ws://localhost:8080) to stream every statechart to (development only)',
  ),
  f(
    global,
    'version',
    'optionalString',
    '',
    'Print version information and quit; --version=json|yaml prints all fields',
    {
      noOptDefault: 'short',
    },
  ),
  f(global, 'help', 'bool', false, 'help for clusternet-agent', { shorthand: 'h' }),
  ...(
    [
      ['add-dir-header', 'bool', false],
      ['alsologtostderr', 'bool', false],
      ['log-backtrace-at', 'string', ':0'],
      ['log-dir', 'string', ''],
      ['log-file', 'string', ''],
      ['log-file-max-size', 'int', 1800],
      ['logtostderr', 'bool', true],
      ['one-output', 'bool', false],
      ['skip-headers', 'bool', false],
      ['skip-log-headers', 'bool', false],
      ['stderrthreshold', 'string', '2'],
    ] as const
  ).map(([name, kind, def]) => f(legacy, name, kind, def, 'klog flag of v0.7.0', { hidden: true, ignored: true })),
];

export const sectionOrder = [
  reg,
  mgmt,
  health,
  predictor,
  le,
  misc,
  serving,
  profiling,
  metrics,
  logs,
  gates,
  extensions,
  global,
];

const byName = new Map(flagSpecs.map((s) => [s.name, s]));
const byShorthand = new Map(flagSpecs.filter((s) => s.shorthand !== undefined).map((s) => [s.shorthand ?? '', s]));

/** Finds a flag; `_` and `-` are interchangeable in names, as with the Go agent's normalisation. */
export function lookupFlag(name: string): FlagSpec | undefined {
  return byName.get(name.replaceAll('_', '-'));
}

export function lookupShorthand(letter: string): FlagSpec | undefined {
  return byShorthand.get(letter);
}
