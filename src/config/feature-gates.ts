// --feature-gates: the Clusternet gates (all alpha, default false), plus the generic Kubernetes gates
// the Go agent's process-wide gate also registers (accepted, no effect here).

import { parseGoBool } from './argv.ts';

export const clusternetGates = [
  'SocketConnection',
  'AppPusher',
  'Deployer',
  'ShadowAPI',
  'FeedInUseProtection',
  'Recovery',
  'FeedInventory',
  'Predictor',
  'MultiClusterService',
  'FailOver',
  'FeasibleClustersToleration',
  'ClusterInit',
] as const;
export type ClusternetGate = (typeof clusternetGates)[number];

const genericGates: readonly string[] = [
  'AllAlpha',
  'AllBeta',
  'ComponentSLIs',
  'ContextualLogging',
  'LoggingAlphaOptions',
  'LoggingBetaOptions',
];

export type FeatureGates = Readonly<Record<ClusternetGate, boolean>>;

export const defaultFeatureGates: FeatureGates = Object.fromEntries(clusternetGates.map((g) => [g, false])) as Record<
  ClusternetGate,
  boolean
>;

/** Parses `Key=bool,Key2=bool` onto `base`; returns the gates and one message per bad item. */
export function parseFeatureGates(text: string, base: FeatureGates): { gates: FeatureGates; errors: string[] } {
  const gates: Record<string, boolean> = { ...base };
  const errors: string[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [key = '', value, ...extra] = item.split('=');
    if (value === undefined || extra.length > 0) {
      errors.push(`--feature-gates: missing bool value for ${key}`);
      continue;
    }
    const bool = parseGoBool(value);
    if (bool === undefined) {
      errors.push(
        `--feature-gates: invalid value of ${key}=${value}, err: strconv.ParseBool: parsing "${value}": invalid syntax`,
      );
    } else if ((clusternetGates as readonly string[]).includes(key)) {
      gates[key] = bool;
    } else if (!genericGates.includes(key)) {
      errors.push(`--feature-gates: unrecognized feature gate: ${key}`);
    }
  }
  return { gates: gates as FeatureGates, errors };
}
