// The registration lifecycle (spec §2–§3): cluster identity → stored credentials or bootstrap token →
// ClusterRegistrationRequest → approval (read with GET, quickly at first, as the hub's RBAC grants only
// get/create) → credentials stored in the child → verified with TLS against the approved CA →
// registered; and back to the bootstrap path when the parent rejects the dedicated credentials, at
// start-up or later.
//
// Pure: every effect is an actor or delay provided from src/ (or by tests) with `.provide()`. Secrets
// (tokens, CA) never enter the context or events: src/ keeps their values, by name ('stored',
// 'approved'); which of them are held and which are in use is this chart's context (`held`,
// `credentialSource`), and each effect is told by name which credentials to use (`credentialsFor`).

import { assign, fromPromise, sendParent, sendTo, setup } from 'xstate';
import { reportTo, type RegistrationReport } from '../events.ts';
import { failureParams, notProvided as notProvidedBy, type Failure } from '../failure.ts';
import { credentialCheckVerdict, credentialsUsable, type StoredCredentialsView } from './decisions.ts';
import { describeProblem, type RegistrationProblem } from './problems.ts';

/** The ClusterRegistrationRequest as the machine sees it (no token, no CA). */
export interface RequestView {
  readonly result: 'Approved' | 'Denied' | 'Failed' | undefined;
  readonly errorMessage: string | undefined;
  /** The CRR's `clusters.clusternet.io/cluster-name` label: adopted as the cluster name. */
  readonly clusterName: string | undefined;
  readonly dedicatedNamespace: string | undefined;
  readonly managedClusterName: string | undefined;
  /** The request is approved with a token: src/ keeps it as the 'approved' credentials. */
  readonly carriesCredentials: boolean;
}

/** Which credentials the steps use: the dedicated ones, or the bootstrap token. */
export type CredentialSource = 'stored' | 'bootstrap';

/** The credentials src/ holds, by name: the bootstrap token, the child Secret's, the approved request's. */
export type Credentials = 'bootstrap' | 'stored' | 'approved';

/** Which dedicated credentials src/ holds (their values stay there). */
export interface HeldCredentials {
  /** Read from the child's `parent-cluster` Secret, or written there. */
  readonly stored: boolean;
  /** Carried by the approved request; preferred over the stored ones, dropped when a bootstrap request starts. */
  readonly approved: boolean;
}

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
  readonly held: HeldCredentials;
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
  readonly credentials: Credentials;
}
export interface RequestInput {
  readonly clusterId: string;
  readonly credentials: Credentials;
}
export interface StoreInput {
  readonly clusterId: string;
  readonly clusterName: string | undefined;
  readonly dedicatedNamespace: string;
  /** Undefined when the approved request carried no token: there is nothing to store. */
  readonly credentials: 'approved' | undefined;
}
export interface VerifyInput {
  readonly clusterId: string;
  /** Undefined when src/ holds no dedicated credentials: the check fails as unauthorized. */
  readonly credentials: 'approved' | 'stored' | undefined;
}

/** The dedicated credentials held, the approved ones first. */
export function dedicatedCredentials(held: HeldCredentials): VerifyInput['credentials'] {
  return held.approved ? 'approved' : held.stored ? 'stored' : undefined;
}

/** The credentials a step uses: the dedicated ones held when the source is 'stored', else the bootstrap token. */
export function credentialsFor(context: Pick<RegistrationContext, 'credentialSource' | 'held'>): Credentials {
  return context.credentialSource === 'stored' ? (dedicatedCredentials(context.held) ?? 'bootstrap') : 'bootstrap';
}

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
  credentials: credentialsFor(context),
});

/** What a check of the dedicated credentials uses. */
const verifyInput = ({ context }: { context: RegistrationContext }): VerifyInput => ({
  clusterId: context.clusterId ?? '',
  credentials: dedicatedCredentials(context.held),
});

/** The parameters of the guards and actions about a read of the request. */
const requestParams = ({ event }: { event: { readonly output: RequestView } }) => ({ request: event.output });

/** A read of the request: note the credentials it carries, and what the context learns from it. */
const readDone = [
  { type: 'noteApproval', params: requestParams },
  { type: 'adopt', params: requestParams },
] as const;

/** An approved request: store its credentials. */
const whenApproved = {
  guard: { type: 'approved', params: requestParams },
  target: '#registration.storingCredentials',
  actions: [...readDone, 'resetAttempts', 'reportProblem'],
} as const;

/** Counts a failed step and keeps its message (`params`: the actor's error, see failureParams). */
const recordFailure = { type: 'recordFailure', params: failureParams } as const;
/** A guard on an actor's failure. */
const onFailure = <
  T extends 'rejected' | 'credentialsRevoked' | 'lackingPermission' | 'requestInvalid' | 'requestGone',
>(
  type: T,
) => ({ type, params: failureParams }) as const;

/** Entry action of a failure state: what /readyz and the metric say until registration gets on. */
const problem = (p: RegistrationProblem) =>
  [{ type: 'noteProblem', params: { problem: p } }, { type: 'reportProblem' }] as const;

/** The parameters of the guards and actions about a read of the child's Secret. */
const storedParams = ({ event }: { event: { readonly output: StoredCredentialsView | undefined } }) => ({
  stored: event.output,
});

const notProvided = notProvidedBy('registration');

/**
 * Registration's steady loops: the periodic re-check of the stored credentials once registered, and
 * the polls while awaiting approval. Logged at debug while healthy, a first failure at warn, the
 * recovery at info.
 */
export const routineRegistrationStates: readonly (readonly string[])[] = [
  ['registered', 'checkingCredentials'],
  ['awaitingApproval.polling', 'awaitingApproval.waitingToPoll'],
];

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
    verifyCredentials: fromPromise<undefined, VerifyInput>(notProvided('verifyCredentials')),
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
    rejected: (_, { failure }: { failure: Failure }) => failure.kind === 'unauthorized' || failure.kind === 'forbidden',
    /** A check of the dedicated credentials got a 401: the parent rejects the token. */
    credentialsRevoked: (_, { failure }: { failure: Failure }) => credentialCheckVerdict(failure.kind) === 'revoked',
    /** A check of the dedicated credentials got a 403: the token is valid but lacks a permission. */
    lackingPermission: (_, { failure }: { failure: Failure }) =>
      credentialCheckVerdict(failure.kind) === 'lackingPermission',
    requestInvalid: (_, { failure }: { failure: Failure }) => failure.kind === 'invalid',
    requestGone: (_, { failure }: { failure: Failure }) => failure.kind === 'notFound',
    approved: (_, { request }: { request: RequestView }) => isApproved(request),
    denied: (_, { request }: { request: RequestView }) => isDenied(request),
    usableStoredCredentials: ({ context }, { stored }: { stored: StoredCredentialsView | undefined }) =>
      credentialsUsable(stored, context.parentUrl) === 'usable',
    storedForAnotherParent: ({ context }, { stored }: { stored: StoredCredentialsView | undefined }) =>
      credentialsUsable(stored, context.parentUrl) === 'parentUrlChanged',
  },
  actions: {
    recordFailure: assign(({ context }, { failure }: { failure: Pick<Failure, 'message'> }) => ({
      attempt: context.attempt + 1,
      lastFailure: failure.message,
    })),
    /** A new step starts (registering again): its retries count from the first. */
    restartAttempts: assign({ attempt: 0 }),
    /** A step succeeded. A rejection of approved credentials still holds until credentials verify. */
    resetAttempts: assign({
      attempt: 0,
      lastFailure: undefined,
      problem: ({ context }) => (context.rejectedApprovals > 0 ? 'approvedCredentialsRejected' : undefined),
    }),
    noteProblem: assign((_, params: { problem: RegistrationProblem }) => ({ problem: params.problem })),
    /** After a change of `problem`: tells the root what holds registration up now (its message may carry a new lastFailure). */
    reportProblem: sendTo(reportTo, ({ context }) => ({
      type: 'registration.problem' as const,
      problem: context.problem,
      message: describeProblem(context),
    })),
    countRejectedApproval: assign({ rejectedApprovals: ({ context }) => context.rejectedApprovals + 1 }),
    /** The credentials verified: every failure count starts over. */
    credentialsVerified: assign({ attempt: 0, lastFailure: undefined, rejectedApprovals: 0, problem: undefined }),
    useBootstrapToken: assign({ credentialSource: 'bootstrap' as CredentialSource }),
    useDedicatedCredentials: assign({ credentialSource: 'stored' as CredentialSource }),
    /** The child's Secret was read: src/ holds its token (if it has one) as the 'stored' credentials. */
    noteStored: assign(({ context }, { stored }: { stored: StoredCredentialsView | undefined }) => ({
      held: { ...context.held, stored: stored?.hasToken === true },
    })),
    /** A read of the request: src/ keeps the token of an approved one as the 'approved' credentials. */
    noteApproval: assign(({ context }, { request }: { request: RequestView }) => ({
      held: { ...context.held, approved: context.held.approved || request.carriesCredentials },
    })),
    /** A new request with the bootstrap token: the credentials of an earlier approval are not used again. */
    dropApprovalWhenBootstrapping: assign(({ context }) => ({
      held: context.credentialSource === 'bootstrap' ? { ...context.held, approved: false } : context.held,
    })),
    /** The approved credentials are now the child Secret's too. */
    noteCredentialsStored: assign(({ context }) => ({ held: { ...context.held, stored: true } })),
    adopt: assign(({ context }, { request }: { request: RequestView }) => adoptRequest(context, request)),
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
    held: { stored: false, approved: false },
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
          actions: [assign({ clusterId: ({ event }) => event.output.clusterId }), 'resetAttempts', 'reportProblem'],
        },
        onError: { target: 'identityUnavailable', actions: recordFailure },
      },
    },
    identityUnavailable: { entry: problem('identityUnavailable'), after: { retryDelay: 'resolvingIdentity' } },

    loadingStoredCredentials: {
      invoke: {
        id: 'loadStoredCredentials',
        src: 'loadStoredCredentials',
        onDone: [
          {
            guard: { type: 'usableStoredCredentials', params: storedParams },
            target: 'requesting',
            actions: [
              { type: 'noteStored', params: storedParams },
              'useDedicatedCredentials',
              'resetAttempts',
              'reportProblem',
            ],
          },
          {
            guard: { type: 'storedForAnotherParent', params: storedParams },
            target: 'parentUrlChanged',
            actions: { type: 'noteStored', params: storedParams },
          },
          {
            target: 'requesting',
            actions: [
              { type: 'noteStored', params: storedParams },
              'useBootstrapToken',
              'resetAttempts',
              'reportProblem',
            ],
          },
        ],
        onError: { target: 'storedCredentialsUnreadable', actions: recordFailure },
      },
    },
    storedCredentialsUnreadable: {
      entry: problem('storedCredentialsUnreadable'),
      after: { retryDelay: 'loadingStoredCredentials' },
    },
    /** The stored credentials were issued by another parent: register anew with the bootstrap token. */
    parentUrlChanged: {
      always: { target: 'requesting', actions: ['useBootstrapToken', 'resetAttempts', 'reportProblem'] },
    },

    requesting: {
      entry: 'dropApprovalWhenBootstrapping',
      invoke: {
        id: 'submitRequest',
        src: 'submitRequest',
        input: ({ context }) => ({
          clusterId: context.clusterId ?? '',
          clusterName: context.clusterName,
          credentials: credentialsFor(context),
        }),
        onDone: { target: 'awaitingApproval', actions: ['resetAttempts', 'reportProblem'] },
        onError: [
          { guard: onFailure('rejected'), target: 'rejected', actions: recordFailure },
          { guard: onFailure('requestInvalid'), target: 'requestInvalid', actions: recordFailure },
          { target: 'parentUnreachable', actions: recordFailure },
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
              { guard: { type: 'denied', params: requestParams }, target: '#registration.denied', actions: readDone },
              { target: 'waitingToPoll', actions: [...readDone, 'resetAttempts', 'reportProblem'] },
            ],
            onError: [
              { guard: onFailure('rejected'), target: '#registration.rejected', actions: recordFailure },
              { guard: onFailure('requestGone'), target: '#registration.requestVanished', actions: recordFailure },
              { target: 'parentUnreachable', actions: recordFailure },
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
            onDone: [whenApproved, { target: 'waiting', actions: { type: 'noteApproval', params: requestParams } }],
            onError: [
              { guard: onFailure('requestGone'), target: '#registration.requestVanished', actions: recordFailure },
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
              credentials: context.held.approved ? 'approved' : undefined,
            }),
            onDone: {
              target: '#registration.verifying',
              actions: ['noteCredentialsStored', 'resetAttempts', 'reportProblem'],
            },
            onError: { target: 'backingOff', actions: recordFailure },
          },
        },
        backingOff: { entry: problem('credentialsNotStored'), after: { retryDelay: 'writing' } },
      },
    },

    verifying: {
      entry: 'useDedicatedCredentials',
      invoke: {
        id: 'verifyCredentials',
        src: 'verifyCredentials',
        input: verifyInput,
        onDone: { target: 'registered', actions: ['credentialsVerified', 'reportProblem', 'reportRegistered'] },
        onError: [
          {
            guard: onFailure('credentialsRevoked'),
            target: 'approvedCredentialsRejected',
            actions: [recordFailure, 'countRejectedApproval'],
          },
          // A 403: the token works but its ClusterRole is not (yet) there; check again after a pause.
          {
            guard: onFailure('lackingPermission'),
            target: 'verificationFailed',
            actions: [recordFailure, 'warnLackingPermission'],
          },
          { target: 'verificationFailed', actions: recordFailure },
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
      entry: ['useBootstrapToken', ...problem('approvedCredentialsRejected')],
      after: { rejectedApprovalDelay: 'awaitingApproval' },
    },
    verificationFailed: { entry: problem('credentialsNotVerified'), after: { retryDelay: 'verifying' } },

    registered: {
      after: { credentialCheckInterval: 'checkingCredentials' },
      // A component was refused by the parent: check the credentials now. Only the parent rejecting
      // the token here (401) revokes them; a refusal of a permission (403: the tunnel's when the hub
      // grants no `sockets` rule, anyone's while the ClusterRole is recreated) must not send a healthy
      // cluster back to the bootstrap token in a loop.
      on: {
        'credentials.rejected': {
          target: 'checkingCredentials',
          actions: { type: 'recordFailure', params: ({ event }) => ({ failure: event }) },
        },
      },
    },
    checkingCredentials: {
      invoke: {
        id: 'verifyCredentials',
        src: 'verifyCredentials',
        input: verifyInput,
        onDone: { target: 'registered', actions: ['resetAttempts', 'reportProblem', 'reportConfirmed'] },
        onError: [
          // Registering again starts its backoff afresh, however many re-checks failed before.
          {
            guard: onFailure('credentialsRevoked'),
            target: 'credentialsRevoked',
            actions: ['restartAttempts', recordFailure],
          },
          // A valid token lacking a permission: keep serving, say so, check again at the next interval.
          {
            guard: onFailure('lackingPermission'),
            target: 'registered',
            actions: [recordFailure, 'warnLackingPermission'],
          },
          // The parent being unreachable does not invalidate the credentials: keep them. It is a failure
          // streak all the same (the transition log says it once, and its recovery once).
          { target: 'registered', actions: recordFailure },
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
