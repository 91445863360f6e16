// The running agent: the root statechart (leadership gates registration and the registered
// components) with the real effects provided, one log line per state transition of every machine,
// metrics fed from the same transitions, and readiness derived from the root actor's snapshots.

import {
  BehaviorSubject,
  combineLatest,
  distinctUntilChanged,
  filter,
  from,
  map,
  pairwise,
  startWith,
  type Observable,
  type Subscription,
} from 'rxjs';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { agentMachine } from '../machines/agent/machine.ts';
import type { AgentConfig } from './config/config.ts';
import { childKubeConfig } from './kube/child.ts';
import { describeProxy, proxyFromEnvironment, type ProxyEnv } from './kube/proxy.ts';
import { createLeadershipMachine, electionIdentity } from './leadership/actors.ts';
import type { Logger } from './logging/logger.ts';
import { transitionLogger, type TransitionRecord } from './logging/transitions.ts';
import { AgentMetrics } from './observability/metrics.ts';
import { statechartInspector } from './observability/statechart-inspector.ts';
import type { Readiness } from './observability/server.ts';
import { createRegistrationMachine } from './registration/actors.ts';
import { loadParentAccess, type ParentAccess } from './parent/access.ts';
import { createDeployerMachine } from './deployer/actors.ts';
import { deployerStartupStates } from '../machines/deployer/machine.ts';
import { createMcsMachine } from './mcs/actors.ts';
import { createHeartbeatMachine } from './heartbeat/actors.ts';
import { routineHeartbeatStates } from '../machines/heartbeat/machine.ts';
import { routineLeadershipStates } from '../machines/leadership/machine.ts';
import { routineRegistrationStates } from '../machines/registration/machine.ts';
import { routineSocketStates } from '../machines/socket/machine.ts';
import { predictorFacts, servesBuiltInPredictor } from '../machines/heartbeat/decisions.ts';
import type { RegistrationContext } from '../machines/registration/machine.ts';
import { describeProblem, type RegistrationProblem } from '../machines/registration/problems.ts';
import { electionTiming } from '../machines/leadership/timing.ts';
import { redactUrls } from './logging/redact-url.ts';
import { childRequestLimiter } from './kube/request-limiter.ts';
import { createPredictorMachine } from './predictor/actors.ts';
import { createSocketMachine } from './tunnel/actors.ts';
import { actorClock, checkBeforeTimers } from './clock.ts';
import { serverAddress } from './tunnel/dial-allow-list.ts';
import type { StreamRelay } from './tunnel/stream-relay.ts';

export type AgentSnapshot = ReturnType<Actor<typeof agentMachine>['getSnapshot']>;

/** How the agent ended: stopped (Lease released) → 0; failed → 1. */
export interface AgentExit {
  readonly code: 0 | 1;
  readonly failure?: string;
}

/** Why registration is not getting on: /readyz says the message, the metric the reason. */
export interface RegistrationHeldUp {
  readonly reason: RegistrationProblem;
  readonly message: string;
}

export interface RunningAgent {
  readonly actor: Actor<typeof agentMachine>;
  readonly identity: string;
  readonly metrics: AgentMetrics;
  /** Current readiness: registered and, when the tunnel is enabled, connected. */
  readonly readiness: () => Readiness;
  /** Readiness as it changes. */
  readonly readiness$: Observable<Readiness>;
  /** Input for the tunnel component: whether the tunnel is up (readiness waits for it when enabled). */
  readonly tunnelUp: BehaviorSubject<boolean>;
  /** Resolves when the root machine finishes. */
  readonly exited: Promise<AgentExit>;
  /** Stops the work, releases the Lease (if held), then `exited` resolves with code 0. */
  stop(): void;
}

export interface AgentOptions {
  readonly onTransition?: (t: TransitionRecord) => void;
  /** Shared with the health server; a fresh one otherwise. */
  readonly metrics?: AgentMetrics;
  /** The environment (HTTP(S)_PROXY/NO_PROXY, CLUSTER_CIDR/SERVICE_CIDR); the process's by default. */
  readonly env?: ProxyEnv;
}

export function startAgent(config: AgentConfig, log: Logger, opts: AgentOptions = {}): RunningAgent {
  const env = opts.env ?? process.env;
  // API calls to the parent and the child honour HTTP(S)_PROXY/NO_PROXY as client-go's do (spec §1.3).
  const proxyFor = proxyFromEnvironment(env);
  const child = childKubeConfig(config.child.kubeconfig, proxyFor, env);
  const parentUrl = config.registration.parentUrl;
  for (const [cluster, url] of [
    ['parent', parentUrl],
    ['child', child.getCurrentCluster()?.server ?? ''],
  ] as const) {
    const proxy = url === '' ? undefined : proxyFor(url);
    if (proxy !== undefined)
      log.info({ cluster, proxy: describeProxy(proxy) }, `API calls to the ${cluster} go through a proxy`);
  }
  const parentAccess = (): Promise<ParentAccess> =>
    loadParentAccess(child, config.systemNamespace, parentUrl, proxyFor);
  const identity = electionIdentity();
  const tunnelUp = new BehaviorSubject(false);
  /** Why the tunnel is down (its failure kind and the last reason), from the socket machine. */
  const tunnelFailure = new BehaviorSubject<string | undefined>(undefined);
  const metrics = opts.metrics ?? new AgentMetrics();
  const le = config.leaderElection;
  const leadership = createLeadershipMachine({
    child,
    namespace: config.systemNamespace,
    leaseName: le.leaseName,
    log: log.child({ component: 'leadership' }),
  });
  const registration = createRegistrationMachine({
    config,
    child,
    log: log.child({ component: 'registration' }),
    proxyFor,
  });
  // Registered components tell the root when the parent refuses their credentials; it forwards that to
  // registration, which re-checks and, if they are really revoked, ends `serving`.
  const credentialsRejected = (message: string): void => {
    actor.send({ type: 'credentials.rejected', message });
  };
  const heartbeat = createHeartbeatMachine({
    config,
    child,
    log: log.child({ component: 'heartbeat' }),
    env,
    parent: parentAccess,
    onCredentialsRejected: credentialsRejected,
    onReport: (seconds, failure) => {
      if (failure === undefined) metrics.heartbeatLatency.observe(seconds);
      else metrics.heartbeatFailures.inc({ reason: failure });
    },
  });
  // Tunnel counters across sessions: the finished sessions' bytes, plus the current session's relay.
  let relay: StreamRelay | undefined;
  const closedBytes = { sent: 0, received: 0 };
  // The scheduler calls a published predictor through the tunnel: the allow-list admits its address.
  const gate = config.featureGates.Predictor;
  const predictor = predictorFacts(gate, config.predictor.addr, config.predictor.directAccess, config.predictor.port);
  const predictorTarget = predictor.enabled ? serverAddress(predictor.address) : undefined;
  const socket = createSocketMachine({
    log: log.child({ component: 'tunnel' }),
    allowedTargets: [
      ...config.extensions.tunnelAllowedTargets,
      ...(predictorTarget === undefined ? [] : [predictorTarget]),
    ],
    child,
    systemNamespace: config.systemNamespace,
    proxyFor,
    onCredentialsRejected: credentialsRejected,
    onFailureKind: (kind, message) => {
      tunnelFailure.next(kind === undefined ? undefined : `${kind}: ${message ?? ''}`);
      metrics.setTunnelFailure(kind);
    },
    onRelay: (next) => {
      if (relay !== undefined) {
        closedBytes.sent += relay.stats.bytesSent;
        closedBytes.received += relay.stats.bytesReceived;
      }
      relay = next;
    },
  });
  metrics.observeTunnel(() => {
    const s = relay?.stats;
    return {
      streams: s?.streams ?? 0,
      bytesSent: closedBytes.sent + (s?.bytesSent ?? 0),
      bytesReceived: closedBytes.received + (s?.bytesReceived ?? 0),
    };
  });
  // The heartbeat and the deployer each limit their child requests with a bucket of their own
  // (--kube-api-qps/--kube-api-burst), as the Go agent's separate clients do: a large rollout must not
  // hold up the health probes. The Lease and the tunnel are not limited.
  const deployer = createDeployerMachine({
    config,
    child,
    log: log.child({ component: 'deployer' }),
    parent: parentAccess,
  });
  const predictorMachine = createPredictorMachine({
    child,
    log: log.child({ component: 'predictor' }),
    host: '127.0.0.1',
    port: config.predictor.port,
    limiter: childRequestLimiter(config.child.qps, config.child.burst),
  });
  // Gate MultiClusterService: ServiceExports' EndpointSlices mirrored into the dedicated namespace (spec §7.7).
  const mcs = createMcsMachine({ config, child, log: log.child({ component: 'mcs' }), parent: parentAccess });
  const machine = agentMachine.provide({
    actors: { leadership, registration, heartbeat, socket, deployer, predictor: predictorMachine, mcs },
  });

  const inspectors: ((ev: InspectionEvent) => void)[] = [
    transitionLogger(
      log.child({ component: 'transitions' }),
      (t) => {
        metrics.observeTransition(t);
        if (t.machine === 'socket') tunnelUp.next(t.to.startsWith('session.open'));
        opts.onTransition?.(t);
      },
      new Map([
        ['leadership', routineLeadershipStates],
        ['registration', routineRegistrationStates],
        ['heartbeat', [routineHeartbeatStates]],
        ['socket', [routineSocketStates]],
        ['deployer', [deployerStartupStates]],
      ]),
      // The tunnel says each new kind of failure and its recovery itself (src/tunnel/actors.ts).
      new Set(['socket']),
    ),
  ];
  // What holds registration up, from its own snapshots (the root's do not change with a child's).
  const registrationHeldUp = new BehaviorSubject<RegistrationHeldUp | undefined>(undefined);
  inspectors.push((ev) => {
    if (ev.type !== '@xstate.snapshot' || (ev.actorRef as { logic?: { id?: string } }).logic?.id !== 'registration')
      return;
    const context = (ev.snapshot as { context?: RegistrationContext }).context;
    if (context === undefined) return;
    const message = describeProblem(context);
    registrationHeldUp.next(
      context.problem === undefined || message === undefined
        ? undefined
        : { reason: context.problem, message: redactUrls(message) },
    );
  });
  // workqueue_* from the deployer's queue as its snapshots show it.
  inspectors.push(metrics.workQueue.inspector('deployer'));
  const inspectorUrl = config.extensions.statechartInspector;
  if (inspectorUrl !== undefined) inspectors.push(statechartInspector(inspectorUrl, log));

  const actor = createActor(machine, {
    input: {
      leadership: {
        identity,
        enabled: le.enabled,
        timing: electionTiming(le),
      },
      registration: { parentUrl: config.registration.parentUrl, clusterName: config.registration.clusterName },
      deployer: { syncMode: config.registration.syncMode, appPusher: config.featureGates.AppPusher },
      predictor: { serve: servesBuiltInPredictor(gate, config.predictor.addr) },
      multiClusterService: config.featureGates.MultiClusterService,
      tunnel: {
        enabled: config.featureGates.SocketConnection,
        parentUrl: config.registration.parentUrl,
        childServer: child.getCurrentCluster()?.server ?? '',
      },
    },
    inspect: (ev) => {
      for (const i of inspectors) i(ev);
    },
    // Every delay of every machine (children share the root's clock) waits as long as asked, even
    // past Node's 2^31 ms limit (a 600h period); and before any of them acts, leadership checks its
    // work deadline (lease.check), so after a pause no work runs past it, whatever timer fires first.
    clock: checkBeforeTimers(actorClock, () => {
      actor.send({ type: 'lease.check' });
    }),
  });

  // rxjs at the edge: snapshots of the root actor.
  const snapshots$ = from(actor);
  const serving$ = snapshots$.pipe(
    map((s) => s.matches({ leading: 'serving' })),
    startWith(false),
    distinctUntilChanged(),
  );
  const tunnelEnabled = config.featureGates.SocketConnection;
  // Registration runs while leading: once the term ends, nothing holds it up.
  const heldUp$ = combineLatest([
    snapshots$.pipe(
      map((s) => s.matches('leading')),
      startWith(false),
    ),
    registrationHeldUp,
  ]).pipe(
    map(([leading, held]) => (leading ? held : undefined)),
    distinctUntilChanged((a, b) => a?.reason === b?.reason && a?.message === b?.message),
  );
  const compute = (
    serving: boolean,
    up: boolean,
    heldUp: RegistrationHeldUp | undefined,
    failure: string | undefined,
  ): Readiness => {
    const reasons = [
      ...(serving
        ? []
        : [
            heldUp === undefined ? 'not registered (standing by, or registering)' : `not registered: ${heldUp.message}`,
          ]),
      ...(tunnelEnabled && !up
        ? [failure === undefined ? 'tunnel not connected' : `tunnel not connected (${failure})`]
        : []),
    ];
    return { ready: reasons.length === 0, reasons };
  };
  let current: Readiness = compute(false, false, undefined, undefined);
  const readiness$ = combineLatest([serving$, tunnelUp, heldUp$, tunnelFailure]).pipe(
    map(([s, up, held, failure]) => compute(s, up, held, failure)),
    distinctUntilChanged((a, b) => a.ready === b.ready && a.reasons.join() === b.reasons.join()),
  );
  const subs: Subscription[] = [
    // Said once each time the reason changes, not at every retry; the metric carries the reason.
    heldUp$.pipe(distinctUntilChanged((a, b) => a?.reason === b?.reason)).subscribe((held) => {
      metrics.setRegistrationProblem(held?.reason);
      if (held !== undefined) log.warn({ component: 'registration', reason: held.reason }, held.message);
    }),
    readiness$.subscribe((r) => {
      current = r;
    }),
    // The tunnel stops with `serving` without a transition of its own: it is down from then on.
    serving$.pipe(filter((s) => !s)).subscribe(() => {
      tunnelUp.next(false);
      metrics.tunnelUp.set(0);
      tunnelFailure.next(undefined);
      metrics.setTunnelFailure(undefined);
    }),
    snapshots$
      .pipe(
        map((s) => s.context.registered),
        pairwise(),
        filter(([before, now]) => before === undefined && now !== undefined),
      )
      .subscribe(([, r]) => {
        log.info(
          { clusterId: r?.clusterId, clusterName: r?.clusterName, dedicatedNamespace: r?.dedicatedNamespace },
          `registered with ${redactUrls(config.registration.parentUrl)} as cluster ${r?.clusterName ?? ''} (${r?.clusterId ?? ''})`,
        );
      }),
  ];

  const exited = new Promise<AgentExit>((resolve) => {
    actor.subscribe({
      complete: () => {
        const failure = actor.getSnapshot().output?.failure;
        if (failure !== undefined) log.fatal({ failure }, 'a component failed unexpectedly');
        else log.info('stopped');
        resolve(failure === undefined ? { code: 0 } : { code: 1, failure });
      },
      error: (err: unknown) => {
        // A bug, not an expected failure: log and end non-zero; Kubernetes restarts us.
        log.fatal({ err }, 'the agent failed unexpectedly');
        resolve({ code: 1, failure: err instanceof Error ? err.message : String(err) });
      },
    });
  });
  void exited.then(() => {
    for (const s of subs) s.unsubscribe();
  });

  log.info({ identity, lease: `${config.systemNamespace}/${le.leaseName}`, leaderElect: le.enabled }, 'campaigning');
  actor.start();
  return {
    actor,
    identity,
    metrics,
    readiness: () => current,
    readiness$,
    tunnelUp,
    exited,
    stop: () => {
      actor.send({ type: 'agent.stop' });
    },
  };
}
