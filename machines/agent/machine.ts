// The root agent statechart: leadership gates the work.
//
//   standby ──lease.acquired──▶ leading.registering ──registration.registered──▶ leading.serving
//      ▲                              │ (registration runs for the whole term)          │
//      └────────────── lease.lost ────┴──────────────────────────────────────────────────┘
//
// Leaving `leading` stops every child invoked inside it (registration and the serving regions) in the
// same step, before the leadership machine can campaign again or release the Lease. `agent.stop`
// while serving first drains the deployer (`serving.draining`: the other components stop, the
// deployer's helm runs exit, bounded by `drainDeadline`), then leaves `leading` and asks the leadership
// machine to release the Lease; when it has, the agent is `stopped`. An error of any child ends the
// agent in `failed` (the process exits non-zero).
//
// `serving` invokes the deployer, and `serving.working` one named actor per other registered component
// (heartbeat, socket, predictor, mcs). Children report to the root only with the typed events of
// machines/events.ts (`ChildReport`). A component refused by the parent sends `credentials.rejected`,
// which is forwarded to registration; if registration then revokes, `serving` is left and its children
// stop; when its re-check passes, its `credentials.confirmed` is forwarded to the socket (a tunnel
// refused with 403). The other reports (tunnel, heartbeat, registration problems) change no state here:
// src/ reads them, with the tags below, from the outward stream (src/observability/agent-events.ts).

import { assign, sendTo, setup, type DoneActorEvent, type ErrorActorEvent } from 'xstate';
import type { ChildReport } from '../events.ts';
import { notProvided as notProvidedBy } from '../failure.ts';
import { agentDelays } from './timing.ts';
import { deployerMachine } from '../deployer/machine.ts';
import type { SyncMode } from '../deployer/decisions.ts';
import { heartbeatMachine } from '../heartbeat/machine.ts';
import { mcsMachine } from '../mcs/machine.ts';
import { leadershipMachine, type LeadershipInput } from '../leadership/machine.ts';
import { registrationMachine, type RegistrationInput } from '../registration/machine.ts';
import { predictorMachine, type PredictorInput } from '../predictor/machine.ts';
import { socketMachine } from '../socket/machine.ts';

/** The tunnel (gate SocketConnection): where it dials and what it may reach. */
export interface TunnelInput {
  readonly enabled: boolean;
  readonly parentUrl: string;
  readonly childServer: string;
}

/** The deployer: whether this agent deploys (spec §1.5) follows from these. */
export interface DeployerSettings {
  readonly syncMode: SyncMode;
  readonly appPusher: boolean;
}

export interface AgentInput {
  readonly leadership: LeadershipInput;
  readonly registration: RegistrationInput;
  readonly tunnel: TunnelInput;
  readonly deployer: DeployerSettings;
  /** The built-in predictor (gate Predictor, no --predictor-addr); not served when absent. */
  readonly predictor?: PredictorInput;
  /** Gate MultiClusterService: the ServiceExport → EndpointSlice syncer runs while serving (default off). */
  readonly multiClusterService?: boolean;
}

/** What the registered components are started with. */
export interface Registered {
  readonly clusterId: string;
  readonly clusterName: string | undefined;
  readonly dedicatedNamespace: string;
}

export interface AgentContext {
  readonly leadership: LeadershipInput;
  readonly registration: RegistrationInput;
  readonly tunnel: TunnelInput;
  readonly deployer: DeployerSettings;
  readonly predictor: PredictorInput;
  readonly multiClusterService: boolean;
  readonly registered: Registered | undefined;
  /** Why the agent failed (an unexpected error of a child). */
  readonly failure: string | undefined;
}

export interface AgentOutput {
  /** Set when the agent ended because a child failed unexpectedly. */
  readonly failure: string | undefined;
}

export type AgentEvent =
  | { readonly type: 'agent.stop' }
  /**
   * Sent (by the clock, before any timer's work) to have leadership check its work deadline: after a
   * pause, work timers due before the deadline fire after it, possibly before the deadline's own timer.
   */
  | { readonly type: 'lease.check' }
  /** What the children report (machines/events.ts). */
  | ChildReport;

/**
 * The root's state tags: what src/ reads of the root (readiness, metrics), never its state names.
 * `leading`: this replica holds the Lease and works; `registered`: registered and serving.
 */
export const agentTags = ['leading', 'registered'] as const;
export type AgentTag = (typeof agentTags)[number];

const notProvided = notProvidedBy('agent');

/** The parameters of `noteFailure`: which child failed, and its error (with the stack, for a bug). */
const childFailureParams = ({ event }: { readonly event: ErrorActorEvent | DoneActorEvent }): { failure: string } => {
  const child = event.actorId;
  if (!('error' in event)) return { failure: `${child}: ended, and it never ends while the agent runs` };
  const err = event.error;
  return { failure: `${child}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` };
};

/** An unexpected error of a child: the agent ends, non-zero. */
const failed = { target: '#agent.failed', actions: { type: 'noteFailure', params: childFailureParams } } as const;

export const agentMachine = setup({
  types: {
    context: {} as AgentContext,
    events: {} as AgentEvent,
    input: {} as AgentInput,
    output: {} as AgentOutput,
    tags: {} as AgentTag,
  },
  delays: agentDelays(),
  actors: {
    leadership: leadershipMachine,
    registration: registrationMachine,
    heartbeat: heartbeatMachine,
    socket: socketMachine,
    deployer: deployerMachine,
    predictor: predictorMachine,
    mcs: mcsMachine,
  },
  actions: {
    noteFailure: assign((_, { failure }: { failure: string }) => ({ failure })),
    requestRelease: sendTo('leadership', { type: 'lease.release' }),
    checkTerm: sendTo('leadership', { type: 'lease.check' }),
    forwardToRegistration: sendTo('registration', ({ event }) => event),
    forwardToSocket: sendTo('socket', ({ event }) => event),
    drainDeployer: sendTo('deployer', { type: 'deployer.drain' }),
    /** Says (a warning) that the agent stops while helm still runs: a release may stay pending. */
    warnDrainIncomplete: notProvided('warnDrainIncomplete'),
  },
}).createMachine({
  id: 'agent',
  context: ({ input }) => ({
    leadership: input.leadership,
    registration: input.registration,
    tunnel: input.tunnel,
    deployer: input.deployer,
    predictor: input.predictor ?? { serve: false },
    multiClusterService: input.multiClusterService ?? false,
    registered: undefined,
    failure: undefined,
  }),
  invoke: {
    id: 'leadership',
    src: 'leadership',
    input: ({ context }) => context.leadership,
    // Done only once the Lease is released (or the release gave up): the agent is finished.
    onDone: '.stopped',
    onError: failed,
  },
  on: { 'agent.stop': '.stopping', 'lease.check': { actions: 'checkTerm' } },
  initial: 'standby',
  states: {
    /** Not the leader: nothing runs but the election (and the health server, outside the machine). */
    standby: {
      on: { 'lease.acquired': 'leading' },
    },

    leading: {
      tags: ['leading'],
      on: {
        'lease.lost': 'standby',
        'credentials.rejected': { actions: 'forwardToRegistration' },
      },
      exit: assign({ registered: undefined }),
      invoke: {
        id: 'registration',
        src: 'registration',
        input: ({ context }) => context.registration,
        onDone: failed, // registration never finishes while it runs
        onError: failed,
      },
      initial: 'registering',
      states: {
        registering: {
          on: {
            'registration.registered': {
              target: 'serving',
              actions: [
                // A Lease deleted while leading is recreated under this ID (issue 13 #8, spec §2).
                sendTo('leadership', ({ event }) => ({ type: 'identity.known', clusterId: event.clusterId })),
                assign({
                  registered: ({ event }) => ({
                    clusterId: event.clusterId,
                    clusterName: event.clusterName,
                    dedicatedNamespace: event.dedicatedNamespace,
                  }),
                }),
              ],
            },
          },
        },
        /**
         * Registered: the registration machine goes on checking the dedicated credentials (invoked
         * above, for the whole term); the registered components run here, one region each, and stop
         * when the credentials are revoked or leadership ends.
         */
        serving: {
          tags: ['registered'],
          on: {
            'registration.revoked': { target: 'registering', actions: assign({ registered: undefined }) },
          },
          // The deployer runs through the drain; it only publishes the deployer Secret when the parent pushes.
          invoke: {
            id: 'deployer',
            src: 'deployer',
            input: ({ context }) => ({
              clusterId: context.registered?.clusterId ?? '',
              dedicatedNamespace: context.registered?.dedicatedNamespace ?? '',
              syncMode: context.deployer.syncMode,
              appPusher: context.deployer.appPusher,
            }),
            onError: failed,
          },
          initial: 'working',
          states: {
            /** The other registered components, one actor each (the tunnel sits `disabled` without its gate). */
            working: {
              on: {
                'credentials.confirmed': { actions: 'forwardToSocket' },
                'agent.stop': 'draining',
              },
              invoke: [
                {
                  id: 'heartbeat',
                  src: 'heartbeat',
                  input: ({ context }) => ({
                    clusterId: context.registered?.clusterId ?? '',
                    dedicatedNamespace: context.registered?.dedicatedNamespace ?? '',
                  }),
                  onError: failed,
                },
                {
                  id: 'socket',
                  src: 'socket',
                  input: ({ context }) => ({
                    enabled: context.tunnel.enabled,
                    parentUrl: context.tunnel.parentUrl,
                    clusterId: context.registered?.clusterId ?? '',
                    childServer: context.tunnel.childServer,
                  }),
                  onError: failed,
                },
                {
                  // Only the registered leader serves the predictor; leaving `serving` closes it.
                  id: 'predictor',
                  src: 'predictor',
                  input: ({ context }) => context.predictor,
                  onError: failed,
                },
                {
                  // Sits `disabled` without its gate.
                  id: 'mcs',
                  src: 'mcs',
                  input: ({ context }) => ({
                    enabled: context.multiClusterService,
                    dedicatedNamespace: context.registered?.dedicatedNamespace ?? '',
                  }),
                  onError: failed,
                },
              ],
            },
            /**
             * The agent stops: the other components have stopped; the deployer stops its reconciles and
             * reports `deployer.drained` once their helm runs have exited (a helm given SIGTERM marks its
             * release failed instead of leaving it pending). Only then, or after drainDeadline, is `leading`
             * left and the Lease released, so a standby cannot take over while helm still runs.
             */
            draining: {
              entry: 'drainDeployer',
              on: {
                'deployer.drained': '#agent.stopping',
                'lease.lost': '#agent.stopping',
                'registration.revoked': {},
                'agent.stop': {},
              },
              after: { drainDeadline: { target: '#agent.stopping', actions: 'warnDrainIncomplete' } },
            },
          },
        },
      },
    },

    /** Work has stopped (leaving `leading` stopped every child); now the Lease is released. */
    stopping: {
      entry: 'requestRelease',
      on: { 'agent.stop': {} },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => ({ failure: context.failure }),
});
