// The catalogue of what the component machines report to the root agent machine (`sendParent`), in one
// place: every child → root signal is one of these, typed, and nothing reaches the root around the actor
// tree (no callback that calls `actor.send` on the root). The root forwards some of them (a rejection to
// registration, a confirmation to the socket); the outward stream (src/observability) sees all of them.

import type { AnyActorRef } from 'xstate';
import type { RegistrationProblem } from './registration/problems.ts';
import type { TunnelFailureKind } from './socket/decisions.ts';

/** The registered components that talk to the parent with the dedicated credentials. */
export type ParentClient = 'heartbeat' | 'socket' | 'deployer' | 'mcs';

/** Leadership → root. */
export type LeadershipReport = { readonly type: 'lease.acquired' } | { readonly type: 'lease.lost' };

/** Registration → root. */
export type RegistrationReport =
  | {
      readonly type: 'registration.registered';
      readonly clusterId: string;
      readonly clusterName: string | undefined;
      readonly dedicatedNamespace: string;
    }
  /** The dedicated credentials no longer work: the registered components stop. */
  | { readonly type: 'registration.revoked' }
  /** A check of the dedicated credentials passed (e.g. one a component's `credentials.rejected` asked for). */
  | { readonly type: 'credentials.confirmed' }
  /** What holds registration up changed (undefined: nothing does any more); readiness and a metric say it. */
  | {
      readonly type: 'registration.problem';
      readonly problem: RegistrationProblem | undefined;
      readonly message: string | undefined;
    };

/** Any component that uses the dedicated credentials → root, which forwards it to registration to re-check. */
export interface CredentialsRejected {
  readonly type: 'credentials.rejected';
  readonly component: ParentClient;
  readonly message: string;
}

/** Socket → root. */
export type TunnelReport =
  /** The handshake succeeded: a session is open (readiness counts the tunnel up from here). */
  | { readonly type: 'tunnel.connected' }
  /**
   * The tunnel is down: why (kind and the last reason). Sent when an open session ends, and when an
   * attempt fails in another way than the one before; not at every retry of the same failure.
   */
  | { readonly type: 'tunnel.disconnected'; readonly kind: TunnelFailureKind; readonly message: string }
  /** A Pong answered our ping after failures: the parent serves the tunnel again. */
  | { readonly type: 'tunnel.recovered' };

/** Heartbeat → root: each status report to the parent, how long it took, and how it failed. */
export type HeartbeatReport =
  | { readonly type: 'heartbeat.reported'; readonly seconds: number }
  /** `reason`: the failure kind (machines/failure.ts). */
  | { readonly type: 'heartbeat.failed'; readonly reason: string };

/** Deployer → root, once it was asked to drain (`deployer.drain`): no helm run is left. */
export interface DeployerReport {
  readonly type: 'deployer.drained';
}

/** Everything a child machine sends its parent, the root agent machine. */
export type ChildReport =
  LeadershipReport | RegistrationReport | CredentialsRejected | TunnelReport | HeartbeatReport | DeployerReport;

/** The type names of the catalogue, for tests that check a name used outside machines/ exists. */
export const childReportTypes = [
  'lease.acquired',
  'lease.lost',
  'registration.registered',
  'registration.revoked',
  'credentials.confirmed',
  'registration.problem',
  'credentials.rejected',
  'tunnel.connected',
  'tunnel.disconnected',
  'heartbeat.reported',
  'heartbeat.failed',
  'tunnel.recovered',
  'deployer.drained',
] as const satisfies readonly ChildReport['type'][];

// Every type of the union is listed above (a missing one fails to compile here).
type Missing = Exclude<ChildReport['type'], (typeof childReportTypes)[number]>;
export const catalogueIsComplete: Missing extends never ? true : never = true;

/**
 * Where a child's report goes (`sendTo(reportTo, …)`): its parent, the root agent machine. A machine run
 * on its own (a unit test, an integration harness) has none (`sendParent` would throw): the report goes
 * to the machine itself, which has no transition for it (no machine handles the reports it sends), so
 * it is dropped. Tests that assert on reports provide the report actions, or run the machine under a parent.
 */
export const reportTo = ({ self }: { readonly self: AnyActorRef }): AnyActorRef => self._parent ?? self;
