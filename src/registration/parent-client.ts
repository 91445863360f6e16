// Clients for the parent cluster and the classification of their failures.

import { ApiException, KubeConfig } from '../kube/client-node.ts';
import type { Failure, FailureKind } from '../../machines/failure.ts';
import { direct, withProxy, type ProxyFunc } from '../kube/proxy.ts';
import type { DedicatedCredentials } from './wire.ts';

/**
 * A parent KubeConfig for a bearer token. With a CA, TLS is verified against it (host name from the
 * parent URL); with an empty one, against the system roots. Without one (the bootstrap phase: the agent
 * has nothing to pin yet), TLS is not verified, as with the Go agent. Requests go through the proxy
 * `proxyFor` picks for the parent URL (HTTPS_PROXY/NO_PROXY, as client-go's); `direct` when none is given.
 */
export function parentKubeConfig(
  parentUrl: string,
  token: string,
  caPem: string | undefined,
  proxyFor: ProxyFunc = direct,
): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'clusternet-cluster',
        server: parentUrl,
        skipTLSVerify: caPem === undefined,
        ...(caPem === undefined || caPem === '' ? {} : { caData: Buffer.from(caPem, 'utf8').toString('base64') }),
      },
    ],
    users: [{ name: 'clusternet', token }],
    contexts: [{ name: 'clusternet@clusternet-cluster', cluster: 'clusternet-cluster', user: 'clusternet' }],
    currentContext: 'clusternet@clusternet-cluster',
  });
  return withProxy(kc, proxyFor);
}

export const dedicatedKubeConfig = (
  parentUrl: string,
  c: DedicatedCredentials,
  proxyFor: ProxyFunc = direct,
): KubeConfig => parentKubeConfig(parentUrl, c.token, c.caPem, proxyFor);

/** A failure the statechart can act on; the message never contains a credential. */
export class ParentFailure extends Error implements Failure {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.name = 'ParentFailure';
  }
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 200);
    }
  }
  return typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string'
    ? body.message
    : undefined;
}

/** Maps an error from a parent call to a failure kind, with a one-line message saying what happened. */
export function classifyParentError(err: unknown, what: string): ParentFailure {
  if (err instanceof ParentFailure) return err;
  if (err instanceof ApiException) {
    const code = err.code;
    const detail = statusMessage(err.body) ?? `HTTP ${String(code)}`;
    const kind: FailureKind =
      code === 401
        ? 'unauthorized'
        : code === 403
          ? 'forbidden'
          : code === 404
            ? 'notFound'
            : code === 409
              ? 'conflict'
              : code === 400 || code === 422
                ? 'invalid'
                : code >= 500 || code === 429
                  ? 'unreachable'
                  : 'other';
    return new ParentFailure(kind, `${what}: ${String(code)} ${detail}`, { cause: err });
  }
  // client-node's Watch reports a non-200 answer as an Error with a statusCode.
  const statusCode = (err as { statusCode?: unknown }).statusCode;
  if (typeof statusCode === 'number') {
    return classifyParentError(new ApiException(statusCode, (err as Error).message, (err as Error).message, {}), what);
  }
  const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const cause = e.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message =
    typeof cause?.message === 'string' ? cause.message : typeof e.message === 'string' ? e.message : String(err);
  return new ParentFailure('unreachable', `${what}: ${code === undefined ? message : `${code} ${message}`}`, {
    cause: err,
  });
}
