// Why registration is not getting on: the reason /readyz gives, the metric's label and the warn line
// the agent writes once each time the reason changes. Pure, called by src/ with the machine's context.

/** What holds registration up, by the failure state that set it (see machine.ts). */
export type RegistrationProblem =
  | 'identityUnavailable'
  | 'storedCredentialsUnreadable'
  | 'bootstrapTokenRejected'
  | 'requestInvalid'
  | 'parentUnreachable'
  | 'requestDenied'
  | 'credentialsNotStored'
  | 'credentialsNotVerified'
  | 'approvedCredentialsRejected';

export const registrationProblems: readonly RegistrationProblem[] = [
  'identityUnavailable',
  'storedCredentialsUnreadable',
  'bootstrapTokenRejected',
  'requestInvalid',
  'parentUnreachable',
  'requestDenied',
  'credentialsNotStored',
  'credentialsNotVerified',
  'approvedCredentialsRejected',
];

/** What the description needs of the registration context. */
export interface ProblemView {
  readonly problem: RegistrationProblem | undefined;
  readonly clusterId: string | undefined;
  readonly lastFailure: string | undefined;
  readonly rejectedApprovals: number;
}

/** The ClusterRegistrationRequest's name (spec §2). */
export const requestNameOf = (clusterId: string | undefined): string => `clusternet-${clusterId ?? '<cluster ID>'}`;

/** One line saying why registration is stuck and, where an operator must act, what to do. */
export function describeProblem(view: ProblemView): string | undefined {
  const crr = `ClusterRegistrationRequest ${requestNameOf(view.clusterId)}`;
  const cause = view.lastFailure === undefined ? '' : `: ${view.lastFailure}`;
  switch (view.problem) {
    case undefined:
      return undefined;
    case 'approvedCredentialsRejected':
      return (
        `the parent rejects the credentials it approved (${String(view.rejectedApprovals)} times in a row); ` +
        `delete ${crr} in the parent to re-register`
      );
    case 'identityUnavailable':
      return `cannot read the cluster identity from the Lease in the child${cause}`;
    case 'storedCredentialsUnreadable':
      return `cannot read the stored parent credentials in the child${cause}`;
    case 'bootstrapTokenRejected':
      return `the parent rejects the bootstrap token (--cluster-reg-token)${cause}`;
    case 'requestInvalid':
      return `the parent refuses ${crr} as invalid${cause}`;
    case 'parentUnreachable':
      return `the parent is unreachable${cause}`;
    case 'requestDenied':
      return `the parent denied ${crr}${cause}; delete it in the parent to request again`;
    case 'credentialsNotStored':
      return `cannot store the approved credentials in the child${cause}`;
    case 'credentialsNotVerified':
      return `the approved credentials do not work yet${cause}`;
  }
}
