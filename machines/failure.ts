// How a call to a cluster failed, as src/ classifies it (src/kube/errors.ts) for the machines' guards.
// Guards read a failure through parameters (`{ type: 'rejected', params: failureParams }`), never by
// casting an event.

export type FailureKind = 'unauthorized' | 'forbidden' | 'invalid' | 'unreachable' | 'notFound' | 'conflict' | 'other';

export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
}

const kinds: ReadonlySet<string> = new Set<FailureKind>([
  'unauthorized',
  'forbidden',
  'invalid',
  'unreachable',
  'notFound',
  'conflict',
  'other',
]);

/**
 * The kind of an apiserver's answer with HTTP `status` (either cluster, either HTTP stack): 401 the
 * credentials are rejected, 403 a permission is missing, 5xx and 429 the server cannot answer now.
 */
export function failureKindOfStatus(status: number): FailureKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'notFound';
  if (status === 409) return 'conflict';
  if (status === 400 || status === 422) return 'invalid';
  if (status >= 500 || status === 429) return 'unreachable';
  return 'other';
}

export function isFailure(err: unknown): err is Failure {
  return (
    typeof err === 'object' &&
    err !== null &&
    'kind' in err &&
    typeof err.kind === 'string' &&
    kinds.has(err.kind) &&
    'message' in err &&
    typeof err.message === 'string'
  );
}

export function failureMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string')
    return err.message;
  return String(err);
}

/** Any error as a failure: a classified one as it is, anything else (a bug, say) as `other`. */
export function asFailure(err: unknown): Failure {
  return isFailure(err) ? { kind: err.kind, message: err.message } : { kind: 'other', message: failureMessage(err) };
}

export function failureKind(err: unknown): FailureKind {
  return asFailure(err).kind;
}

/** The parameters of a guard or action about an actor's failure: `params: failureParams`. */
export const failureParams = ({ event }: { readonly event: { readonly error: unknown } }): { failure: Failure } => ({
  failure: asFailure(event.error),
});

/**
 * The placeholder for an effect src/ (or a test) must provide with `.provide()`: a machine run
 * without it fails at once, naming the machine and the effect.
 */
export const notProvided = (machine: string) => (name: string) => (): never => {
  throw new Error(`${machine}: ${name} not provided`);
};
