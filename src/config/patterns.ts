// The shapes of flag values the agent checks, shared by the command line (src/config/config.ts) and the
// chart's values schema (test/chart/extra-args-schema.ts), so the chart refuses what the agent refuses.

/** A DNS-1123 label: a namespace. */
export const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS-1123 subdomain: an object or cluster name. */
export const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Kubernetes bootstrap token, `<id>.<secret>`. */
export const bootstrapToken = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
/** A ServiceAccount token: a three-part JWT. */
export const jwt = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** A label key, `[prefix/]name`. */
export const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** A label value (possibly empty). */
export const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** The longest cluster name: the CRD's cap on the request's `spec.clusterName`. */
export const maxClusterName = 30;
/** What a generated name adds to `--cluster-reg-name-prefix`: "-" and 5 random characters. */
export const generatedSuffixLength = 6;
