// The heartbeat statechart with its real effects: the node watch, collections against the child, and
// reports to the parent's ManagedCluster with the dedicated credentials registration stored.

import type { KubeConfig } from '@kubernetes/client-node';
import { fromEventObservable, fromPromise } from 'xstate';
import { failureMessage } from '../../machines/failure.ts';
import { predictorFacts, type AgentFacts, type ClusterStatus } from '../../machines/heartbeat/decisions.ts';
import {
  heartbeatMachine,
  type HeartbeatEvent,
  type HeartbeatInput,
  type ReportInput,
  type ReportOutput,
} from '../../machines/heartbeat/machine.ts';
import { heartbeatDelays, heartbeatTiming, type HeartbeatTimingOverrides } from '../../machines/heartbeat/timing.ts';
import type { AgentConfig } from '../config/config.ts';
import { childRequestLimiter, type RequestLimiter } from '../kube/request-limiter.ts';
import type { Logger } from '../logging/logger.ts';
import { loadParentAccess, type ParentAccess } from '../parent/access.ts';
import { versionInfo } from '../version.ts';
import { createCollector } from './collector.ts';
import { NodeStore, nodeEvents$ } from './nodes.ts';
import { createReporter } from './reporter.ts';

export interface HeartbeatDeps {
  readonly config: AgentConfig;
  readonly child: KubeConfig;
  readonly log: Logger;
  /** CLUSTER_CIDR / SERVICE_CIDR: fallbacks for the CIDRs (spec §1.3). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The parent with the dedicated credentials; by default read from the child Secret `parent-cluster`. */
  readonly parent?: () => Promise<ParentAccess>;
  /** Requests to the child (--kube-api-qps/burst); shared with the deployer; by default from the config. */
  readonly childLimiter?: RequestLimiter;
  readonly random?: () => number;
  readonly now?: () => number;
  /** Overrides for tests and benchmarks. */
  readonly timing?: HeartbeatTimingOverrides;
}

/** What the agent itself contributes to every status (spec §4.2). */
export function agentFacts(config: AgentConfig, apiserverUrl: string): AgentFacts {
  return {
    agentVersion: versionInfo().gitVersion,
    apiserverUrl,
    appPusher: config.featureGates.AppPusher,
    useSocket: config.featureGates.SocketConnection,
    kubeQps: config.child.qps,
    kubeBurst: config.child.burst,
    heartbeatFrequencySeconds: Math.floor(config.status.updateFrequencyMs / 1000),
    predictor: predictorFacts(
      config.featureGates.Predictor,
      config.predictor.addr,
      config.predictor.directAccess,
      config.predictor.port,
    ),
  };
}

const blankToUndefined = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/** The collector of the child's status, warning once per process about each source it cannot read. */
function collectorOf(deps: HeartbeatDeps, nodes: NodeStore, limiter: RequestLimiter): () => Promise<ClusterStatus> {
  const { config, child, log } = deps;
  const warnedSources = new Set<string>();
  return createCollector({
    child,
    nodes,
    facts: agentFacts(config, child.getCurrentCluster()?.server ?? ''),
    useMetricsServer: config.status.useMetricsServer,
    cidrEnv: {
      clusterCidr: blankToUndefined(deps.env.CLUSTER_CIDR),
      serviceCidr: blankToUndefined(deps.env.SERVICE_CIDR),
    },
    now: deps.now ?? Date.now,
    limiter,
    onSourceFailed: (source, err) => {
      // Once per source until it works again would need success tracking; once per process is enough
      // to say what is missing without repeating it every 20 s.
      if (warnedSources.has(source)) return;
      warnedSources.add(source);
      log.warn(
        { source, err: failureMessage(err) },
        `cannot read ${source} of the child cluster; its fields are left out`,
      );
    },
  });
}

/** The heartbeat statechart with the real effects provided. */
export function createHeartbeatMachine(deps: HeartbeatDeps): typeof heartbeatMachine {
  const { config, child, log } = deps;
  const timing = heartbeatTiming(
    { collectFrequencyMs: config.status.collectFrequencyMs, updateFrequencyMs: config.status.updateFrequencyMs },
    deps.timing,
  );
  const prefixes = config.management.labelsAggregatePrefixes;
  const nodes = new NodeStore(prefixes);
  const limiter = deps.childLimiter ?? childRequestLimiter(config.child.qps, config.child.burst);
  const parent = deps.parent ?? (() => loadParentAccess(child, config.systemNamespace, config.registration.parentUrl));
  const collect = collectorOf(deps, nodes, limiter);
  const reporter = createReporter({
    parent,
    nodes,
    labelPrefixes: prefixes,
    labelThreshold: config.management.labelsAggregateThreshold,
    onLabelsPatched: (patch) => {
      log.info({ labels: patch }, 'updated the aggregated node labels of the ManagedCluster');
    },
  });

  return heartbeatMachine.provide({
    actors: {
      watchNodes: fromEventObservable<HeartbeatEvent, undefined>(() =>
        nodeEvents$(
          child,
          nodes,
          (count, ms) => {
            log.info({ nodes: count, ms: Math.round(ms) }, `listed ${String(count)} nodes of the child cluster`);
          },
          limiter,
        ),
      ),
      collect: fromPromise(async () => {
        const started = performance.now();
        const status = await collect();
        log.debug({ ms: Math.round(performance.now() - started), nodes: nodes.size }, 'collected the cluster status');
        return status;
      }),
      report: fromPromise<ReportOutput, ReportInput>(async ({ input }) => {
        const started = performance.now();
        await reporter.report(input);
        const seconds = (performance.now() - started) / 1000;
        log.debug({ ms: Math.round(seconds * 1000) }, 'reported the cluster status');
        return { seconds };
      }),
      refresh: fromPromise<undefined, HeartbeatInput>(({ input }) => reporter.refresh(input)),
    },
    delays: heartbeatDelays(timing, deps.random ?? Math.random),
    actions: {
      warnNodesNotSynced: ({ context }) => {
        log.warn(
          { err: context.lastFailure, waitedSeconds: Math.round(timing.nodeSyncTimeout / 1000) },
          'the nodes of the child cluster are not listed yet: the first status report waits for them, as the Go agent waits for its informers',
        );
      },
    },
  });
}
