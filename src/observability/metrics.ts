// The agent's Prometheus metrics (prom-client), in one registry of their own. Fed from the agent's outward
// stream (src/observability/agent-events.ts): the state gauges from every machine's transitions (their
// names only as labels), the rest from the root's tags and the children's reports (machines/events.ts),
// never from state names.
// Process and runtime metrics keep prom-client's standard names (`process_*`, `nodejs_*`), and the
// series component-base gives Go components (`rest_client_*`, `workqueue_*`,
// `leader_election_master_status`) are served under theirs (component-metrics.ts), so dashboards and
// alerts written for Kubernetes components work; the agent's own series are `clusternet_agent_*`.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from './prom-client.ts';
import type { ChildReport } from '../../machines/events.ts';
import { registrationProblems, type RegistrationProblem } from '../../machines/registration/problems.ts';
import type { TransitionRecord } from '../logging/transitions.ts';
import { tunnelFailureKinds, type TunnelFailureKind } from '../../machines/socket/decisions.ts';
import { workKindOf } from '../../machines/deployer/helm-releases.ts';
import { RestClientMetrics, WorkQueueMetrics } from './component-metrics.ts';

const prefix = 'clusternet_agent_';

/** Registration outcomes, by the problem registration reports (the others hold nothing up for an operator). */
const problemResults: Readonly<Partial<Record<RegistrationProblem, string>>> = {
  requestDenied: 'denied',
  bootstrapTokenRejected: 'rejected',
  approvedCredentialsRejected: 'rejected',
  parentUnreachable: 'unreachable',
  requestInvalid: 'invalid',
};

/** What the metrics read from a tunnel session's relay. */
export interface RelayCounters {
  readonly streams: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export class AgentMetrics {
  readonly registry = new Registry();

  /**
   * How many actors of each machine are in each state (dotted state value): 1 for the state of a
   * machine that runs once (registration, the tunnel), 0 for states it has left; for one that runs as
   * several actors at once (a helm run per release) the number in each state. Finished actors count nowhere.
   */
  readonly machineState = new Gauge({
    name: `${prefix}machine_state`,
    help: 'Current state of each statechart: the number of its running actors in each state (1 for the state of a machine that runs once)',
    labelNames: ['machine', 'state'] as const,
    registers: [this.registry],
  });
  readonly transitions = new Counter({
    name: `${prefix}state_transitions_total`,
    help: 'State transitions of each statechart, by the state entered',
    labelNames: ['machine', 'to'] as const,
    registers: [this.registry],
  });
  readonly registrationResults = new Counter({
    name: `${prefix}registration_results_total`,
    help: 'Outcomes of registration steps: registered, denied, rejected, revoked, unreachable, invalid',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly registrationProblem = new Gauge({
    name: `${prefix}registration_problem`,
    help: 'What holds registration up: 1 for the current reason (e.g. approvedCredentialsRejected), 0 for the others',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly registered = new Gauge({
    name: `${prefix}registered`,
    help: '1 while this replica is registered with the parent (and leading)',
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: `${prefix}leader`,
    help: '1 while this replica holds the leader Lease and works',
    registers: [this.registry],
  });
  readonly leaderTransitions = new Counter({
    name: `${prefix}leader_changes_total`,
    help: 'Times this replica became leader or stopped leading',
    labelNames: ['change'] as const,
    registers: [this.registry],
  });

  // Fed by the heartbeat (status reporting) component.
  readonly heartbeatLatency = new Histogram({
    name: `${prefix}heartbeat_report_duration_seconds`,
    help: 'Latency of ManagedCluster status reports to the parent',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly heartbeatFailures = new Counter({
    name: `${prefix}heartbeat_report_failures_total`,
    help: 'Failed ManagedCluster status reports, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  // Fed by the tunnel (socket) component.
  readonly tunnelUp = new Gauge({
    name: `${prefix}tunnel_up`,
    help: '1 while the websocket tunnel to the parent is connected',
    registers: [this.registry],
  });
  readonly tunnelReconnects = new Counter({
    name: `${prefix}tunnel_reconnects_total`,
    help: 'Reconnections of the websocket tunnel: sessions opened after the first of a leadership term',
    registers: [this.registry],
  });
  readonly tunnelFailure = new Gauge({
    name: `${prefix}tunnel_failure`,
    help: 'Why the tunnel is down: 1 for the current failure kind (unreachable, status, unauthorized, forbidden, dropped, tls, other); all 0 while it works',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Sets tunnel_failure: `kind` to 1, every other kind to 0 (all 0 for undefined). */
  setTunnelFailure(kind: TunnelFailureKind | undefined): void {
    for (const k of tunnelFailureKinds) this.tunnelFailure.set({ reason: k }, k === kind ? 1 : 0);
  }
  /** Where the tunnel's counters come from (see observeTunnel). */
  #tunnel: () => RelayCounters = () => ({ streams: 0, bytesSent: 0, bytesReceived: 0 });
  /** What tunnel_bytes_total last exported. */
  readonly #exported = { sent: 0, received: 0 };
  readonly tunnelStreams = new Gauge({
    name: `${prefix}tunnel_streams`,
    help: 'Streams currently open through the tunnel',
    registers: [this.registry],
    collect: () => {
      this.tunnelStreams.set(this.#tunnel().streams);
    },
  });
  readonly tunnelBytes = new Counter({
    name: `${prefix}tunnel_bytes_total`,
    help: 'Stream bytes carried through the tunnel, by direction (sent to the parent, received from it)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
    collect: () => {
      const now = this.#tunnel();
      this.tunnelBytes.inc({ direction: 'sent' }, Math.max(0, now.bytesSent - this.#exported.sent));
      this.tunnelBytes.inc({ direction: 'received' }, Math.max(0, now.bytesReceived - this.#exported.received));
      this.#exported.sent = Math.max(this.#exported.sent, now.bytesSent);
      this.#exported.received = Math.max(this.#exported.received, now.bytesReceived);
    },
  });

  /** Feeds the tunnel stream and byte metrics: open streams, and bytes since start (all sessions). */
  observeTunnel(counters: () => RelayCounters): void {
    this.#tunnel = counters;
  }

  /** client-go's leader_election_master_status: 1 while this replica leads, by Lease name. */
  readonly leaderElectionMasterStatus = new Gauge({
    name: 'leader_election_master_status',
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  readonly #leaseName: string;
  /** rest_client_* for every request to the apiservers (undefined when not asked for). */
  readonly restClient: RestClientMetrics | undefined;
  /** workqueue_* for the deployer's queue, by the work's kind: `description`, `helmrelease`. */
  readonly workQueue = new WorkQueueMetrics(this.registry, (key) => workKindOf(key).toLowerCase(), [
    'description',
    'helmrelease',
  ]);

  constructor(
    opts: {
      /** process_* and nodejs_* (prom-client's default metrics, standard names). */
      processMetrics?: boolean;
      /** rest_client_* from every HTTP request the process makes. */
      restClient?: boolean;
      /** The Lease's name: leader_election_master_status's `name`. */
      leaseName?: string;
    } = {},
  ) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.restClient = opts.restClient === false ? undefined : new RestClientMetrics(this.registry);
    this.#leaseName = opts.leaseName ?? 'clusternet-agent';
    this.leaderElectionMasterStatus.set({ name: this.#leaseName }, 0);
    this.leader.set(0);
    this.registered.set(0);
    this.tunnelUp.set(0);
    this.setRegistrationProblem(undefined);
    this.setTunnelFailure(undefined);
  }

  /** Sets the registration_problem gauge: 1 for `reason`, 0 for every other reason. */
  setRegistrationProblem(reason: string | undefined): void {
    for (const r of registrationProblems) this.registrationProblem.set({ reason: r }, r === reason ? 1 : 0);
  }

  /** States seen per machine, so a machine that starts over (or is stopped) shows no stale state. */
  readonly #seen = new Map<string, Set<string>>();
  /** Where each running actor is, by actor (session id). */
  readonly #actors = new Map<string, { readonly machine: string; readonly state: string }>();

  /** Sets the state gauge of (machine, state) to the number of running actors there. */
  #count(machine: string, state: string): void {
    let n = 0;
    for (const a of this.#actors.values()) if (a.machine === machine && a.state === state) n++;
    this.machineState.set({ machine, state }, n);
  }

  #clearStates(machine: string): void {
    for (const [actor, at] of this.#actors) if (at.machine === machine) this.#actors.delete(actor);
    for (const state of this.#seen.get(machine) ?? []) this.machineState.set({ machine, state }, 0);
  }

  /**
   * Feeds the statechart metrics from one transition-log record of actor `actor` (default: one actor per
   * machine).
   */
  observeTransition(t: TransitionRecord, actor = t.machine): void {
    const was = this.#actors.get(actor);
    this.#actors.set(actor, { machine: t.machine, state: t.to });
    if (was !== undefined) this.#count(was.machine, was.state);
    this.#count(t.machine, t.to);
    const seen = this.#seen.get(t.machine) ?? new Set<string>();
    seen.add(t.to);
    this.#seen.set(t.machine, seen);
    this.transitions.inc({ machine: t.machine, to: t.to });
  }

  /** An actor finished or was stopped: it is in no state. */
  observeEnd(actor: string): void {
    const was = this.#actors.get(actor);
    if (was === undefined) return;
    this.#actors.delete(actor);
    this.#count(was.machine, was.state);
  }

  /** The problem registration reported last. */
  #problem: RegistrationProblem | undefined;

  /** Whether a tunnel session was open before in this run of the socket (a new one is a reconnection). */
  #tunnelOpened = false;

  /** Feeds the leader and registered gauges from the root's tags (leaving `leading` stops every machine below). */
  observeRoot(now: { readonly leading: boolean; readonly registered: boolean }, before: typeof now): void {
    this.leader.set(now.leading ? 1 : 0);
    this.leaderElectionMasterStatus.set({ name: this.#leaseName }, now.leading ? 1 : 0);
    this.registered.set(now.registered ? 1 : 0);
    if (now.leading && !before.leading) this.leaderTransitions.inc({ change: 'started' });
    if (!now.leading && before.leading) {
      this.leaderTransitions.inc({ change: 'stopped' });
      // Leaving `leading` stopped every machine below the agent and the election: none is in any state.
      for (const machine of this.#seen.keys())
        if (machine !== 'agent' && machine !== 'leadership') this.#clearStates(machine);
    }
    if (!now.registered && before.registered) {
      // The tunnel stops with `serving`: it is down, and a later session is a new run's first.
      this.tunnelUp.set(0);
      this.setTunnelFailure(undefined);
      this.#tunnelOpened = false;
    }
  }

  /** Feeds the registration, tunnel and heartbeat metrics from a child's report to the root. */
  observeReport(r: ChildReport): void {
    switch (r.type) {
      case 'registration.registered':
        this.registrationResults.inc({ result: 'registered' });
        break;
      case 'registration.revoked':
        this.registrationResults.inc({ result: 'revoked' });
        break;
      case 'registration.problem': {
        // Once per streak of one problem (registration says it again at each retry).
        const result = r.problem === undefined || r.problem === this.#problem ? undefined : problemResults[r.problem];
        this.#problem = r.problem;
        if (result !== undefined) this.registrationResults.inc({ result });
        break;
      }
      case 'tunnel.connected':
        this.tunnelUp.set(1);
        if (this.#tunnelOpened) this.tunnelReconnects.inc();
        this.#tunnelOpened = true;
        break;
      case 'tunnel.disconnected':
        this.tunnelUp.set(0);
        this.setTunnelFailure(r.kind);
        break;
      case 'tunnel.recovered':
        this.setTunnelFailure(undefined);
        break;
      case 'heartbeat.reported':
        this.heartbeatLatency.observe(r.seconds);
        break;
      case 'heartbeat.failed':
        this.heartbeatFailures.inc({ reason: r.reason });
        break;
      default:
        break;
    }
  }

  /**
   * `--disabled-metrics`: the named metrics are not served (component-base's rule: a name that is not a
   * metric is said, not an error). Returns the names that matched no metric.
   */
  disable(names: readonly string[]): string[] {
    const unknown: string[] = [];
    for (const name of names) {
      if (this.registry.getSingleMetric(name) === undefined) unknown.push(name);
      else this.registry.removeSingleMetric(name);
    }
    return unknown;
  }

  /** Stops what observes the whole process (the HTTP diagnostics channels). */
  close(): void {
    this.restClient?.close();
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
