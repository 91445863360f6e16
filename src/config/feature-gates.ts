// --feature-gates: the Clusternet gates (all alpha, default false), plus the generic Kubernetes gates
// the Go agent's process-wide gate also registers (accepted with a warning: no effect here). A name
// that is neither is an error, as in Go.

import { commaItems, parseGoBool } from './argv.ts';

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

/**
 * The Kubernetes gates in the Go agent's process-wide gate: component-base's AllAlpha/AllBeta, its
 * logging gates and ComponentSLIs, and those of k8s.io/apiserver (the union of v0.30, which Clusternet
 * v0.18.1 builds with, and v0.32, which later releases build with).
 */
export const kubernetesGates: ReadonlySet<string> = new Set([
  // component-base
  'AllAlpha',
  'AllBeta',
  'ComponentSLIs',
  'ContextualLogging',
  'LoggingAlphaOptions',
  'LoggingBetaOptions',
  // k8s.io/apiserver v0.30 and v0.32
  'APIListChunking',
  'APIPriorityAndFairness',
  'APIResponseCompression',
  'APIServerIdentity',
  'APIServerTracing',
  'APIServingWithRoutine',
  'AdmissionWebhookMatchConditions',
  'AggregatedDiscoveryEndpoint',
  'AllowUnsafeMalformedObjectDeletion',
  'AnonymousAuthConfigurableEndpoints',
  'AuthorizeWithSelectors',
  'BtreeWatchCache',
  'CBORServingAndStorage',
  'ConcurrentWatchObjectDecode',
  'ConsistentListFromCache',
  'CoordinatedLeaderElection',
  'CustomResourceValidationExpressions',
  'EfficientWatchResumption',
  'InPlacePodVerticalScaling',
  'KMSv1',
  'KMSv2',
  'KMSv2KDF',
  'MutatingAdmissionPolicy',
  'OpenAPIEnums',
  'RemainingItemCount',
  'RemoteRequestHeaderUID',
  'ResilientWatchCacheInitialization',
  'RetryGenerateName',
  'SeparateCacheWatchRPC',
  'ServerSideApply',
  'ServerSideFieldValidation',
  'StorageVersionAPI',
  'StorageVersionHash',
  'StrictCostEnforcementForVAP',
  'StrictCostEnforcementForWebhooks',
  'StructuredAuthenticationConfiguration',
  'StructuredAuthorizationConfiguration',
  'UnauthenticatedHTTP2DOSMitigation',
  'ValidatingAdmissionPolicy',
  'WatchBookmark',
  'WatchCacheInitializationPostStartHook',
  'WatchFromStorageWithoutResourceVersion',
  'WatchList',
  'ZeroLimitedNominalConcurrencyShares',
]);

export type FeatureGates = Readonly<Record<ClusternetGate, boolean>>;

export const defaultFeatureGates: FeatureGates = Object.fromEntries(clusternetGates.map((g) => [g, false])) as Record<
  ClusternetGate,
  boolean
>;

/**
 * Parses `Key=bool,Key2=bool` onto `base`; returns the gates, one error per bad item and one warning
 * per Kubernetes gate (accepted, no effect).
 */
export function parseFeatureGates(
  text: string,
  base: FeatureGates,
): { gates: FeatureGates; errors: string[]; warnings: string[] } {
  const gates: Record<string, boolean> = { ...base };
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const item of commaItems(text)) {
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
    } else if (kubernetesGates.has(key)) {
      warnings.push(
        `--feature-gates: ${key}=${String(bool)} is a Kubernetes feature gate; it has no effect on this agent`,
      );
    } else {
      errors.push(`--feature-gates: unrecognized feature gate: ${key}`);
    }
  }
  return { gates: gates as FeatureGates, errors, warnings };
}
