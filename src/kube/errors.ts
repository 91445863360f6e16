// The one classifier of API failures, for both clusters (child and parent) and both HTTP stacks:
// client-node's typed APIs (an ApiException, or the Watch's Error with a statusCode) and rawRequest (a
// RawResponse that is not the expected status). Each yields the same ApiFailure: the HTTP status, the
// Kubernetes Status `reason`, the kind the machines' guards read (machines/failure.ts), and a one-line
// message saying what failed. A message never contains a credential.

import { STATUS_CODES } from 'node:http';
import { ApiException } from './client-node.ts';
import { failureKindOfStatus, type Failure, type FailureKind } from '../../machines/failure.ts';
import type { RawResponse } from './raw-request.ts';

export interface ApiFailureDetails {
  /** The HTTP status of the answer; undefined when there was none (network, TLS, timeout). */
  readonly status?: number | undefined;
  /** The Kubernetes Status `reason` (`Unauthorized`, `AlreadyExists`, …), when the body had one. */
  readonly reason?: string | undefined;
  readonly cause?: unknown;
}

/** A failure the statecharts can act on. */
export class ApiFailure extends Error implements Failure {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly reason: string | undefined;
  constructor(kind: FailureKind, message: string, details: ApiFailureDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.status = details.status;
    this.reason = details.reason;
    this.name = 'ApiFailure';
  }
}

interface StatusBody {
  readonly message: string | undefined;
  readonly reason: string | undefined;
}

const field = (o: object, key: string): string | undefined => {
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

/** The `message` and `reason` of a Kubernetes Status body (parsed or not); a plain text body is its message. */
function statusBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return statusBody(JSON.parse(body));
    } catch {
      return { message: body === '' ? undefined : body.slice(0, 200), reason: undefined };
    }
  }
  if (typeof body !== 'object' || body === null) return { message: undefined, reason: undefined };
  return { message: field(body, 'message'), reason: field(body, 'reason') };
}

/**
 * The apiserver's Status reason for a status, for answers whose body was not read (client-node's typed
 * APIs drop the body of a 401 or 403): apimachinery's `StatusReason` values.
 */
const reasonOfStatus: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The failure of an answer with HTTP `status` and `body`. */
export function statusFailure(what: string, status: number, body: unknown, cause?: unknown): ApiFailure {
  const s = statusBody(body);
  const message = s.message ?? STATUS_CODES[status] ?? `HTTP ${String(status)}`;
  return new ApiFailure(failureKindOfStatus(status), `${what}: ${String(status)} ${message}`, {
    status,
    reason: s.reason ?? reasonOfStatus[status],
    cause,
  });
}

/** rawRequest's answer that is not the one expected, classified as client-node's would be. */
export function responseFailure(what: string, res: RawResponse): ApiFailure {
  return statusFailure(what, res.status, res.body);
}

/** Maps an error of any call to a cluster to a failure kind, with a one-line message saying what happened. */
export function classifyApiError(err: unknown, what: string): ApiFailure {
  if (err instanceof ApiFailure) return err;
  if (err instanceof ApiException) return statusFailure(what, err.code, err.body, err);
  // client-node's Watch reports a non-200 answer as an Error with a statusCode.
  if (err instanceof Error && 'statusCode' in err && typeof err.statusCode === 'number')
    return statusFailure(what, err.statusCode, err.message, err);
  // No answer: the network, TLS or a timeout (fetch puts the reason in `cause`).
  const e = typeof err === 'object' && err !== null ? (err as { message?: unknown; cause?: unknown }) : {};
  const cause =
    typeof e.cause === 'object' && e.cause !== null ? (e.cause as { code?: unknown; message?: unknown }) : {};
  const code = typeof cause.code === 'string' ? cause.code : undefined;
  const message =
    typeof cause.message === 'string' ? cause.message : typeof e.message === 'string' ? e.message : String(err);
  return new ApiFailure('unreachable', `${what}: ${code === undefined ? message : `${code} ${message}`}`, {
    cause: err,
  });
}

/** Whether `err` is an answer with HTTP `status` (e.g. a 404 that means "absent"). */
export function hasStatus(err: unknown, status: number): boolean {
  if (err instanceof ApiFailure) return err.status === status;
  return err instanceof ApiException && err.code === status;
}
