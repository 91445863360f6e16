// The JSON schema of the chart's `extraArgs`, derived from the agent's own flag table: one property per
// flag the chart does not set itself, typed by the flag's kind. values.schema.json carries a copy, kept
// equal by test/unit/chart/schema.test.ts; regenerate it with `node test/chart/extra-args-schema.ts`.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { clusternetGates, kubernetesGates } from '../../src/config/feature-gates.ts';
import { flagSpecs, type FlagKind } from '../../src/config/flags.ts';
import {
  bootstrapToken,
  dns1123Label,
  dns1123Subdomain,
  generatedSuffixLength,
  jwt,
  maxClusterName,
} from '../../src/config/patterns.ts';

/**
 * Flags the chart renders from its own values. extraArgs may still give them, as with Clusternet's
 * charts (the v0.7.0-era chart has no other way to set them): rendered later, they win.
 */
export const chartManagedFlags: readonly string[] = [
  'cluster-reg-parent-url',
  'cluster-reg-token',
  'leader-elect',
  'leader-elect-resource-namespace',
  'kube-api-qps',
  'kube-api-burst',
  'secure-port',
];

/** Flags that make no sense in a pod: the agent would print and exit. */
export const refusedFlags: readonly string[] = ['version', 'help'];

/** klog's severity threshold is a number in v0.7.0-era values files (`stderrthreshold: 2`). */
const numericStringFlags: readonly string[] = ['stderrthreshold'];

type Schema = Readonly<Record<string, unknown>>;

const stringOrList: Schema = {
  anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
};

function schemaOf(kind: FlagKind): Schema {
  switch (kind) {
    case 'string':
    case 'optionalString':
    case 'ip':
      return { type: 'string' };
    case 'bool':
      return {
        anyOf: [{ type: 'boolean' }, { type: 'string', pattern: '^(1|t|T|true|TRUE|True|0|f|F|false|FALSE|False)$' }],
      };
    case 'int':
      return { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[-+]?[0-9]+$' }] };
    case 'float':
      return {
        anyOf: [
          { type: 'number' },
          { type: 'string', pattern: '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' },
        ],
      };
    case 'duration':
      return { type: 'string', pattern: goDuration };
    case 'stringArray':
    case 'stringSlice':
      return stringOrList;
  }
}

/** Go's time.ParseDuration syntax (its range is checked by the chart's templates, which can do arithmetic). */
const goDuration = '^([-+]?(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h))+|[-+]?0)$';
/** A duration the agent requires to be positive: no sign, and some digit that is not 0. */
const positiveDuration: Schema = {
  type: 'string',
  allOf: [{ pattern: '^((([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$' }, { pattern: '[1-9]' }],
};
/** The body of a whole-string regular expression, to embed in a larger one. */
const inner = (re: RegExp): string => re.source.replace(/^\^/, '').replace(/\$$/, '');
/** An integer in [min, max] given as a number, or as a string of digits matching `digits`. */
const intIn = (minimum: number, maximum: number, digits: string): Schema => ({
  anyOf: [
    { type: 'integer', minimum, maximum },
    { type: 'string', pattern: digits },
  ],
});
/** 1–65535 as digits. */
const portAlternatives = '[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]';
/** 1–65535, or 0–65535 with `zero`. */
const port = (zero: boolean): string => `^\\+?(${zero ? '0|' : ''}${portAlternatives})$`;
const goBool = '(1|t|T|true|TRUE|True|0|f|F|false|FALSE|False)';
/** `Gate=bool,…` with every gate name the agent knows (Clusternet's and Kubernetes'). */
export const featureGatesPattern = ((): string => {
  const item = `(${[...clusternetGates, ...kubernetesGates].join('|')})=${goBool}`;
  return `^[\\s,]*(${item}([\\s]*,[\\s,]*${item})*[\\s,]*)?$`;
})();
/**
 * `--cluster-labels`: items are skipped unless they have exactly one `=`, and then must be a valid label:
 * src/config/patterns.ts's labelKey and labelValue with the agent's length limits, 63 characters for the
 * key's name part and for the value, written into the repetition counts.
 */
const clusterLabelsPattern = ((): string => {
  const skipped = '[^,=]*|[^,=]*=[^,=]*=[^,]*';
  const prefix = '([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?';
  const name = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
  const value = '([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?';
  const label = `\\s*${prefix}${name}=${value}\\s*`;
  return `^((${label}|${skipped})(,(${label}|${skipped}))*)?$`;
})();

/**
 * What the agent checks of a flag's value beyond its type (src/config/config.ts), for the schema to refuse
 * at `helm install` what the agent would refuse at start. Checks no pattern can express (durations' range
 * and their relations, the token, Push without AppPusher, the lease namespace) are in the chart's
 * `clusternet-agent.validate` template; test/unit/chart/strictness.test.ts compares both with the agent.
 */
export const valueRefinements: Readonly<Record<string, Schema>> = {
  'cluster-reg-name': {
    type: 'string',
    maxLength: maxClusterName,
    pattern: `^(${inner(dns1123Subdomain)})?$`,
  },
  'cluster-reg-name-prefix': {
    type: 'string',
    minLength: 1,
    maxLength: maxClusterName - generatedSuffixLength,
    pattern: dns1123Subdomain.source,
  },
  'cluster-reg-namespace': { type: 'string', maxLength: 63, pattern: `^(${inner(dns1123Label)})?$` },
  'cluster-reg-type': { type: 'string', enum: ['StandardCluster', 'EdgeCluster'] },
  'cluster-sync-mode': { type: 'string', enum: ['Pull', 'Push', 'Dual'] },
  'cluster-reg-parent-url': { type: 'string', pattern: '^\\s*https?://[^\\s/?#]+(/[^\\s?#]*)?\\s*$' },
  'cluster-labels': { type: 'string', pattern: clusterLabelsPattern },
  'labels-aggregate-threshold': {
    anyOf: [
      { type: 'number', minimum: 0, maximum: 1 },
      { type: 'string', pattern: '^\\+?(0*(\\.[0-9]*)?|0*1(\\.0*)?|\\.[0-9]+)$' },
    ],
  },
  'cluster-status-update-frequency': positiveDuration,
  'cluster-status-collect-frequency': positiveDuration,
  'log-flush-frequency': positiveDuration,
  'parent-credentials-check-interval': positiveDuration,
  'leader-elect-retry-period': positiveDuration,
  'leader-elect-lease-duration': positiveDuration,
  'leader-elect-renew-deadline': positiveDuration,
  'predictor-port': intIn(1, 65535, port(false)),
  'predictor-addr': { type: 'string', pattern: '^([A-Za-z][A-Za-z0-9+.-]*:[^\\s]*)?$' },
  'leader-elect-resource-name': { type: 'string', maxLength: 253, pattern: dns1123Subdomain.source },
  'leader-elect-resource-namespace': { type: 'string', maxLength: 63, pattern: dns1123Label.source },
  'kube-api-qps': {
    anyOf: [
      { type: 'number', minimum: 0 },
      { type: 'string', pattern: '^\\+?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' },
    ],
  },
  'kube-api-burst': intIn(0, 2 ** 31 - 1, '^\\+?[0-9]{1,9}$'),
  'secure-port': intIn(0, 65535, port(true)),
  v: intIn(0, 2 ** 31 - 1, '^\\+?[0-9]{1,9}$'),
  'tls-min-version': { type: 'string', enum: ['', 'VersionTLS10', 'VersionTLS11', 'VersionTLS12', 'VersionTLS13'] },
  'logging-format': { type: 'string', enum: ['text', 'json'] },
  'feature-gates': { type: 'string', pattern: featureGatesPattern },
  'helm-binary': { type: 'string', minLength: 1 },
  'statechart-inspector': { type: 'string', pattern: '^(wss?://[^/\\s]+.*)?$' },
  'tunnel-allowed-targets': (() => {
    const target = { type: 'string', pattern: `^(\\*|.+:(${portAlternatives}))$` };
    return { anyOf: [target, { type: 'array', items: target }] };
  })(),
};

/** The registration token's shape (checked by the templates, which can fail without echoing it). */
export const tokenPatterns: readonly string[] = [bootstrapToken.source, jwt.source];

/** The top-level `featureGates` value: the same gates as extraArgs.feature-gates. */
export function featureGatesSchema(): Schema {
  return {
    type: 'string',
    description: 'Feature gates (--feature-gates), merged with extraArgs.feature-gates',
    pattern: featureGatesPattern,
  };
}

export function extraArgsSchema(): Schema {
  const properties: Record<string, Schema> = {};
  for (const spec of flagSpecs) {
    if (refusedFlags.includes(spec.name)) continue;
    const schema = numericStringFlags.includes(spec.name)
      ? { anyOf: [{ type: 'string' }, { type: 'integer' }] }
      : (valueRefinements[spec.name] ?? schemaOf(spec.kind));
    properties[spec.name] = { description: spec.usage, ...schema };
    // v0.7.0's klog flags are spelled with underscores (`log_dir`); the agent takes either spelling.
    if (spec.ignored === true && spec.name.includes('-')) {
      properties[spec.name.replaceAll('-', '_')] = { description: `${spec.usage} (as ${spec.name})`, ...schema };
    }
  }
  return {
    type: 'object',
    description:
      "Further agent flags, one --<key>=<value> each, after the chart's own (a list repeats the flag; of a repeated flag the last wins); only the agent's own flags",
    additionalProperties: false,
    properties,
  };
}

export const valuesSchemaPath = fileURLToPath(
  new URL('../../charts/clusternet-agent/values.schema.json', import.meta.url),
);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const schema = JSON.parse(readFileSync(valuesSchemaPath, 'utf8')) as { properties: Record<string, unknown> };
  schema.properties.extraArgs = extraArgsSchema();
  schema.properties.featureGates = featureGatesSchema();
  writeFileSync(valuesSchemaPath, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${valuesSchemaPath}; run \`npx prettier --write\` on it before committing\n`);
}
