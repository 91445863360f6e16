// The parts of prom-client the agent uses, required from the files that define them rather than from the
// package's index, which also loads what the agent never uses: the cluster-mode aggregator (node:cluster),
// the Pushgateway client (http, https, url, zlib) and Summary with its t-digest (docs/memory.md, step 6).
// The package has no exports map, so these are its published files; the values are the same the index
// re-exports (test/unit/observability/prom-client.test.ts checks them against the index, so a version of the
// package of another shape fails there). Types come from the package's own declarations.
//
// The default metrics' CPU collector (lib/metrics/processCpuTotal.js) requires @opentelemetry/api for
// exemplars, which the agent does not enable; the entry point's hooks (src/kube/client-node-hooks.ts) give
// that one module the API on first use.

import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry.js') as typeof PromClient.Registry;
export type Registry = PromClient.Registry;
export const Counter = require('prom-client/lib/counter.js') as typeof PromClient.Counter;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export const Gauge = require('prom-client/lib/gauge.js') as typeof PromClient.Gauge;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const Histogram = require('prom-client/lib/histogram.js') as typeof PromClient.Histogram;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
export const collectDefaultMetrics =
  require('prom-client/lib/defaultMetrics.js') as typeof PromClient.collectDefaultMetrics;
