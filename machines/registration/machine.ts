// The registration lifecycle (spec §2–§3): cluster identity → stored credentials or bootstrap token →
// ClusterRegistrationRequest → approval (read with GET, quickly at first, as the hub's RBAC grants only
// get/create) → credentials stored in the child → verified with TLS against the approved CA →
// registered; and back to the bootstrap path when the parent rejects the dedicated credentials, at
// start-up or later.
//
// Pure: every effect is an actor or delay provided from src/ (or by tests) with `.provide()`. Secrets
// (tokens, CA) never enter the context or events; src/ keeps them beside the actors.

import { assign, fromPromise, sendParent, setup } from 'xstate';
import { errorOf, failureKind, failureMessage, notProvided as notProvidedBy } from '../failure.ts';
import { credentialCheckVerdict, credentialsUsable, type StoredCredentialsView } from './decisions.ts';
import type { RegistrationProblem } from './problems.ts';
import type { RegistrationReport } from '../events.ts';

/** The ClusterRegistrationRequest as the machine sees it (no token, no CA). */
export interface RequestView {
  readonly result: 'Approved' | 'Denied' | 'Failed' | undefined;
  readonly errorMessage: string | undefined;
  /** The CRR's `clusters.clusternet.io/cluster-name` label: adopted as the cluster name. */
  readonly clusterName: string | undefined;
  readonly dedicatedNamespace: string | undefined;
  readonly managedClusterName: string | undefined;
}

export type CredentialSource = 'stored' | 'bootstrap';

export interface RegistrationInput {
  readonly parentUrl: string;
  /** `--cluster-reg-name`, if given. */
  readonly clusterName: string | undefined;
}

export interface RegistrationContext {
  readonly parentUrl: string;
  readonly clusterId: string | undefined;
  readonly clusterName: string | undefined;
  readonly dedicatedNamespace: string | undefined;
  readonly managedClusterName: string | undefined;
  readonly credentialSource: CredentialSource;
  /** Consecutive failures of the current step; drives the backoff. */
  readonly attempt: number;
  /** Reads of the request so far while waiting; drives the polling interval. */
  readonly polls: number;
  readonly lastFailure: string | undefined;
  /**
   * Times in a row the parent rejected the credentials it approved. Unlike `attempt` it survives the
   * loop back through the request (whose steps succeed), and is reset only when credentials verify.
   */
  readonly rejectedApprovals: number;
  /** What holds registration up, set by the failure state entered; cleared by progress. */
  readonly problem: RegistrationProblem | undefined;
}

/** Another component (heartbeat, tunnel) was refused by the parent with the dedicated credentials. */
export interface RegistrationEvent {
  readonly type: 'credentials.rejected';
  readonly message: string;
}

/** What the parent (the agent) hears: the catalogue's registration reports (machines/events.ts). */
export type { RegistrationReport } from '../events.ts';

export interface IdentityOutput {
  readonly clusterId: string;
}
export interface SubmitInput {
  readonly clusterId: string;
  readonly clusterName: string | undefined;
  readonly source: CredentialSource;
}
export interface RequestInput {
  readonly clusterId: string;
  readonly source: CredentialSource;
}
export interface StoreInput {
  readonly clusterId: string;
  readonly clusterName: string | undefined;
  readonly dedicatedNamespace: string;
}

/** The request view of a readRequest done event. */
function requestOf(event: unknown): RequestView {
  return (event as { output?: RequestView }).output ?? emptyRequest;
}

const emptyRequest: RequestView = {
  result: undefined,
  errorMessage: undefined,
  clusterName: undefined,
  dedicatedNamespace: undefined,
  managedClusterName: undefined,
};

export const isApproved = (r: RequestView): boolean => r.result === 'Approved' && r.dedicatedNamespace !== undefined;
export const isDenied = (r: RequestView): boolean => r.result === 'Denied' || r.result === 'Failed';

/** What the context learns from a request: its name label, namespace, and a denial's reason. */
export function adoptRequest(context: RegistrationContext, r: RequestView): Partial<RegistrationContext> {
  return {
    clusterName: r.clusterName ?? context.clusterName,
    dedicatedNamespace: r.dedicatedNamespace ?? context.dedicatedNamespace,
    managedClusterName: r.managedClusterName ?? context.managedClusterName,
    lastFailure: isDenied(r) ? (r.errorMessage ?? 'request denied') : context.lastFailure,
  };
}

/** What the request reads address: this cluster's CRR, with the credentials in use. */
const requestInput = ({ context }: { context: RegistrationContext }): RequestInput => ({
  clusterId: context.clusterId ?? '',
  source: context.credentialSource,
});

/** An approved request: store its credentials. */
const whenApproved = {
  guard: 'approved',
  target: '#registration.storingCredentials',
  actions: ['adopt', 'resetAttempts'],
} as const;

/** Entry action of a failure state: what /readyz and the metric say until registration gets on. */
const problem = (p: RegistrationProblem) => ({ type: 'noteProblem', params: { problem: p } }) as const;

const notProvided = notProvidedBy('registration');

export const registrationMachine = setup({
  types: {
    context: {} as RegistrationContext,
    events: {} as RegistrationEvent,
    input: {} as RegistrationInput,
  },
  actors: {
    /** Reads (and if needed adopts) the cluster ID from the child's Lease. */
    resolveIdentity: fromPromise<IdentityOutput>(notProvided('resolveIdentity')),
    /** Reads the child's `parent-cluster` Secret; undefined when absent. */
    loadStoredCredentials: fromPromise<StoredCredentialsView | undefined>(notProvided('loadStoredCredentials')),
    /** Creates the CRR (AlreadyExists counts as success). */
    submitRequest: fromPromise<undefined, SubmitInput>(notProvided('submitRequest')),
    /** Reads the CRR once (GET); rejects with kind notFound when it is gone. */
    readRequest: fromPromise<RequestView, RequestInput>(notProvided('readRequest')),
    /** Writes the approved credentials into the child's `parent-cluster` Secret. */
    storeCredentials: fromPromise<undefined, StoreInput>(notProvided('storeCredentials')),
    /** One call to the parent with the dedicated credentials, TLS verified against the approved CA. */
    verifyCredentials: fromPromise<undefined, RequestInput>(notProvided('verifyCredentials')),
  },
  delays: {
    /** Backoff before the next try of a failed step (context.attempt). */
    retryDelay: notProvided('retryDelay'),
    /** How often the dedicated credentials are re-checked once registered. */
    credentialCheckInterval: notProvided('credentialCheckInterval'),
    /** Backoff before re-reading the request after the parent rejected the credentials it approved. */
    rejectedApprovalDelay: notProvided('rejectedApprovalDelay'),
    /** How often a denied CRR is re-read. */
    approvalResync: notProvided('approvalResync'),
    /** Interval between reads of the CRR while waiting for approval (context.polls). */
    approvalPoll: notProvided('approvalPoll'),
  },
  guards: {
    usingStoredCredentials: ({ context }) => context.credentialSource === 'stored',
    rejected: ({ event }) => ['unauthorized', 'forbidden'].includes(failureKind(errorOf(event))),
    /** A check of the dedicated credentials got a 401: the parent rejects the token. */
    credentialsRevoked: ({ event }) => credentialCheckVerdict(failureKind(errorOf(event))) === 'revoked',
    /** A check of the dedicated credentials got a 403: the token is valid but lacks a permission. */
    lackingPermission: ({ event }) => credentialCheckVerdict(failureKind(errorOf(event))) === 'lackingPermission',
    requestInvalid: ({ event }) => failureKind(errorOf(event)) === 'invalid',
    requestGone: ({ event }) => failureKind(errorOf(event)) === 'notFound',
    approved: ({ event }) => isApproved(requestOf(event)),
    denied: ({ event }) => isDenied(requestOf(event)),
  },
  actions: {
    recordFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      lastFailure: ({ event }) => failureMessage(errorOf(event)),
    }),
    /** A step succeeded. A rejection of approved credentials still holds until credentials verify. */
    resetAttempts: assign({
      attempt: 0,
      lastFailure: undefined,
      problem: ({ context }) => (context.rejectedApprovals > 0 ? 'approvedCredentialsRejected' : undefined),
    }),
    noteProblem: assign((_, params: { problem: RegistrationProblem }) => ({ problem: params.problem })),
    countRejectedApproval: assign({ rejectedApprovals: ({ context }) => context.rejectedApprovals + 1 }),
    /** The credentials verified: every failure count starts over. */
    credentialsVerified: assign({ attempt: 0, lastFailure: undefined, rejectedApprovals: 0, problem: undefined }),
    useBootstrapToken: assign({ credentialSource: 'bootstrap' as CredentialSource }),
    adopt: assign(({ context, event }) => adoptRequest(context, requestOf(event))),
    /** Tells the parent (the agent) that the registered components may run. */
    reportRegistered: sendParent(({ context }): RegistrationReport => ({
      type: 'registration.registered',
      clusterId: context.clusterId ?? '',
      clusterName: context.clusterName,
      dedicatedNamespace: context.dedicatedNamespace ?? '',
    })),
    /** Tells the parent that the dedicated credentials no longer work: the registered components stop. */
    reportRevoked: sendParent({ type: 'registration.revoked' }),
    /** Tells the parent that the parent accepts the dedicated credentials: a tunnel refused with 403 redials. */
    reportConfirmed: sendParent({ type: 'credentials.confirmed' } satisfies RegistrationReport),
    /** Says (a warning) that the parent refused the valid dedicated credentials a permission (context.lastFailure). */
    warnLackingPermission: notProvided('warnLackingPermission'),
  },
}).createMachine({
  id: 'registration',
  context: ({ input }) => ({
    parentUrl: input.parentUrl,
    clusterId: undefined,
    clusterName: input.clusterName,
    dedicatedNamespace: undefined,
    managedClusterName: undefined,
    credentialSource: 'bootstrap',
    attempt: 0,
    polls: 0,
    lastFailure: undefined,
    rejectedApprovals: 0,
    problem: undefined,
  }),
  initial: 'resolvingIdentity',
  states: {
    resolvingIdentity: {
      invoke: {
        id: 'resolveIdentity',
        src: 'resolveIdentity',
        onDone: {
          target: 'loadingStoredCredentials',
          actions: [assign({ clusterId: ({ event }) => event.output.clusterId }), 'resetAttempts'],
        },
        onError: {
          target: 'identityUnavailable',
          actions: 'recordFailure',
        },
      },
    },
    identityUnavailable: { entry: problem('identityUnavailable'), after: { retryDelay: 'resolvingIdentity' } },

    loadingStoredCredentials: {
      invoke: {
        id: 'loadStoredCredentials',
        src: 'loadStoredCredentials',
        onDone: [
          {
            guard: ({ context, event }) => credentialsUsable(event.output, context.parentUrl) === 'usable',
            target: 'requesting',
            actions: [assign({ credentialSource: 'stored' as CredentialSource }), 'resetAttempts'],
          },
          {
            guard: ({ context, event }) => credentialsUsable(event.output, context.parentUrl) === 'parentUrlChanged',
            target: 'parentUrlChanged',
          },
          { target: 'requesting', actions: ['useBootstrapToken', 'resetAttempts'] },
        ],
        onError: {
          target: 'storedCredentialsUnreadable',
          actions: 'recordFailure',
        },
      },
    },
    storedCredentialsUnreadable: {
      entry: problem('storedCredentialsUnreadable'),
      after: { retryDelay: 'loadingStoredCredentials' },
    },
    /** The stored credentials were issued by another parent: register anew with the bootstrap token. */
    parentUrlChanged: { always: { target: 'requesting', actions: ['useBootstrapToken', 'resetAttempts'] } },

    requesting: {
      invoke: {
        id: 'submitRequest',
        src: 'submitRequest',
        input: ({ context }) => ({
          clusterId: context.clusterId ?? '',
          clusterName: context.clusterName,
          source: context.credentialSource,
        }),
        onDone: { target: 'awaitingApproval', actions: 'resetAttempts' },
        onError: [
          { guard: 'rejected', target: 'rejected', actions: 'recordFailure' },
          {
            guard: 'requestInvalid',
            target: 'requestInvalid',
            actions: 'recordFailure',
          },
          {
            target: 'parentUnreachable',
            actions: 'recordFailure',
          },
        ],
      },
    },
    /** The parent refused the credentials in use: decide which path that leads to. */
    rejected: {
      always: [
        { guard: 'usingStoredCredentials', target: 'storedCredentialsRejected' },
        { target: 'bootstrapTokenRejected' },
      ],
    },
    /** Stored dedicated credentials no longer work: fall back to the bootstrap token at once. */
    storedCredentialsRejected: {
      entry: 'useBootstrapToken',
      always: 'requesting',
    },
    /** The bootstrap token is revoked, expired or lacks permission: retry with backoff. */
    bootstrapTokenRejected: {
      entry: problem('bootstrapTokenRejected'),
      after: { retryDelay: 'requesting' },
    },
    requestInvalid: { entry: problem('requestInvalid'), after: { retryDelay: 'requesting' } },
    /** The request was deleted in the parent (e.g. by an operator): create it again, after a pause. */
    requestVanished: { after: { retryDelay: 'requesting' } },
    parentUnreachable: { entry: problem('parentUnreachable'), after: { retryDelay: 'requesting' } },

    /**
     * Reads the CRR (GET) until it is approved: the hub grants the bootstrap token and the dedicated
     * credentials only get/create on it, so a watch would only put a 403 in the parent's audit log.
     */
    awaitingApproval: {
      initial: 'polling',
      entry: assign({ polls: 0 }),
      states: {
        polling: {
          invoke: {
            id: 'readRequest',
            src: 'readRequest',
            input: requestInput,
            onDone: [
              whenApproved,
              { guard: 'denied', target: '#registration.denied', actions: 'adopt' },
              { target: 'waitingToPoll', actions: ['adopt', 'resetAttempts'] },
            ],
            onError: [
              { guard: 'rejected', target: '#registration.rejected', actions: 'recordFailure' },
              { guard: 'requestGone', target: '#registration.requestVanished', actions: 'recordFailure' },
              { target: 'parentUnreachable', actions: 'recordFailure' },
            ],
          },
        },
        /** Between reads: short at first (approval takes about a second), then backing off to a cap. */
        waitingToPoll: {
          entry: assign({ polls: ({ context }) => context.polls + 1 }),
          after: { approvalPoll: 'polling' },
        },
        parentUnreachable: { entry: problem('parentUnreachable'), after: { retryDelay: 'polling' } },
      },
    },

    /** The parent denied the request. Re-read it slowly: deleted → request again; approved → continue. */
    denied: {
      entry: problem('requestDenied'),
      initial: 'waiting',
      states: {
        waiting: { after: { approvalResync: 'rereading' } },
        rereading: {
          invoke: {
            id: 'readRequest',
            src: 'readRequest',
            input: requestInput,
            onDone: [whenApproved, { target: 'waiting' }],
            onError: [
              { guard: 'requestGone', target: '#registration.requestVanished', actions: 'recordFailure' },
              { target: 'waiting' },
            ],
          },
        },
      },
    },

    storingCredentials: {
      initial: 'writing',
      states: {
        writing: {
          invoke: {
            id: 'storeCredentials',
            src: 'storeCredentials',
            input: ({ context }) => ({
              clusterId: context.clusterId ?? '',
              clusterName: context.clusterName,
              dedicatedNamespace: context.dedicatedNamespace ?? '',
            }),
            onDone: { target: '#registration.verifying', actions: 'resetAttempts' },
            onError: {
              target: 'backingOff',
              actions: 'recordFailure',
            },
          },
        },
        backingOff: { entry: problem('credentialsNotStored'), after: { retryDelay: 'writing' } },
      },
    },

    verifying: {
      entry: assign({ credentialSource: 'stored' as CredentialSource }),
      invoke: {
        id: 'verifyCredentials',
        src: 'verifyCredentials',
        input: ({ context }) => ({ clusterId: context.clusterId ?? '', source: 'stored' }),
        onDone: { target: 'registered', actions: ['credentialsVerified', 'reportRegistered'] },
        onError: [
          {
            guard: 'credentialsRevoked',
            target: 'approvedCredentialsRejected',
            actions: ['recordFailure', 'countRejectedApproval'],
          },
          // A 403: the token works but its ClusterRole is not (yet) there; check again after a pause.
          {
            guard: 'lackingPermission',
            target: 'verificationFailed',
            actions: ['recordFailure', 'warnLackingPermission'],
          },
          { target: 'verificationFailed', actions: 'recordFailure' },
        ],
      },
    },
    /**
     * The approved request carries credentials the parent itself rejects (their ServiceAccount was
     * deleted; the approver never re-issues for an approved request). Only an operator deleting the
     * request helps, so re-read it (no new POST: it exists) with a backoff that grows across these
     * loops (`rejectedApprovals`); once it is gone, the read's 404 leads to a new request.
     */
    approvedCredentialsRejected: {
      entry: ['useBootstrapToken', problem('approvedCredentialsRejected')],
      after: { rejectedApprovalDelay: 'awaitingApproval' },
    },
    verificationFailed: { entry: problem('credentialsNotVerified'), after: { retryDelay: 'verifying' } },

    registered: {
      after: { credentialCheckInterval: 'checkingCredentials' },
      // A component was refused by the parent: check the credentials now. Only the parent rejecting
      // the token here (401) revokes them; a refusal of a permission (403: the tunnel's when the hub
      // grants no `sockets` rule, anyone's while the ClusterRole is recreated) must not send a healthy
      // cluster back to the bootstrap token in a loop.
      on: { 'credentials.rejected': { target: 'checkingCredentials', actions: 'recordFailure' } },
    },
    checkingCredentials: {
      invoke: {
        id: 'verifyCredentials',
        src: 'verifyCredentials',
        input: ({ context }) => ({ clusterId: context.clusterId ?? '', source: 'stored' }),
        onDone: { target: 'registered', actions: ['resetAttempts', 'reportConfirmed'] },
        onError: [
          {
            guard: 'credentialsRevoked',
            target: 'credentialsRevoked',
            actions: 'recordFailure',
          },
          // A valid token lacking a permission: keep serving, say so, check again at the next interval.
          { guard: 'lackingPermission', target: 'registered', actions: ['recordFailure', 'warnLackingPermission'] },
          // The parent being unreachable does not invalidate the credentials: keep them.
          { target: 'registered' },
        ],
      },
    },
    /** The parent rejects the dedicated credentials at runtime: register again with the bootstrap token. */
    credentialsRevoked: {
      entry: ['useBootstrapToken', 'reportRevoked'],
      always: 'requesting',
    },
  },
});
