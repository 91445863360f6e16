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

/** The error of an actor's error event, or the event itself (for events that carry a failure). */
export function errorOf(event: unknown): unknown {
  return typeof event === 'object' && event !== null && 'error' in event ? event.error : event;
}

/**
 * The placeholder for an effect src/ (or a test) must provide with `.provide()`: a machine run
 * without it fails at once, naming the machine and the effect.
 */
export const notProvided = (machine: string) => (name: string) => (): never => {
  throw new Error(`${machine}: ${name} not provided`);
};
