// How a call to a cluster failed, as src/ classifies it for the machines' guards.

export type FailureKind = 'unauthorized' | 'forbidden' | 'invalid' | 'unreachable' | 'notFound' | 'conflict' | 'other';

export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
}

export function isFailure(err: unknown): err is Failure {
  return typeof err === 'object' && err !== null && 'kind' in err && 'message' in err;
}

export function failureKind(err: unknown): FailureKind {
  return isFailure(err) ? err.kind : 'other';
}

export function failureMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string')
    return err.message;
  return String(err);
}
