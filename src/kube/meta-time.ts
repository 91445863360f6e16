// How Kubernetes writes a metav1.Time: RFC 3339 in UTC with whole seconds (MicroTime, with
// microseconds, is client-node's V1MicroTime).

/** metav1.Time for epoch milliseconds: `2026-01-02T03:04:05Z` (milliseconds dropped, not rounded). */
export const rfc3339Seconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
