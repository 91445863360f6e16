// The effects of the socket statechart: the websocket tunnel to the parent (spec §5.1, §5.6) with the
// dedicated token, TLS verified against the parent CA the parent approved (the Go agent skips
// verification), HTTPS_PROXY/NO_PROXY honoured (the Go agent ignores them for the tunnel), and the
// stream relay behind it. The token stays in this closure; the statechart sees only what happened.

import type { KubeConfig } from '@kubernetes/client-node';
import type { TunnelFailureKind } from '../../machines/socket/decisions.ts';
import { socketDelays, type SocketTiming } from '../../machines/socket/timing.ts';
import {
  socketMachine,
  type SessionCommand,
  type SessionInput,
  type SocketEvent,
} from '../../machines/socket/machine.ts';
import type { Logger } from '../logging/logger.ts';
import { direct, type ProxyFunc } from '../kube/proxy.ts';
import { loadParentAccess } from '../parent/access.ts';
import type { DedicatedCredentials } from '../parent/credentials-secret.ts';
import { fromCommandedObservable } from './observable-actor.ts';
import { sessionEvents, type SessionEnv } from './session.ts';
import { defaultRelayLimits, type RelayLimits, type StreamRelay } from './stream-relay.ts';
import { nonZeroMasks } from './websocket.ts';

export { maxMessageBytes, nonZeroMasks } from './websocket.ts';
export type { SocketTiming } from '../../machines/socket/timing.ts';

export interface SocketDeps {
  readonly log: Logger;
  /** `--tunnel-allowed-targets`: dial targets allowed besides the child apiserver (`*` = all). */
  readonly allowedTargets: readonly string[];
  /** The child cluster, to read the stored dedicated credentials (Secret `parent-cluster`). */
  readonly child?: KubeConfig;
  readonly systemNamespace?: string;
  /** Overrides where the token and CA come from (tests); default: the child Secret `parent-cluster`. */
  readonly loadCredentials?: (parentUrl: string) => Promise<DedicatedCredentials>;
  readonly random?: () => number;
  readonly limits?: Partial<RelayLimits>;
  /** Numbers only: the chart's delays are built from them by machines/socket/timing.ts (socketDelays). */
  readonly timing?: Partial<SocketTiming>;
  /** Sees each session's relay (tests and metrics). */
  readonly onRelay?: (relay: StreamRelay) => void;
  /** HTTPS_PROXY/NO_PROXY as for the API calls (src/kube/proxy.ts); default: direct. */
  readonly proxyFor?: ProxyFunc;
}

/** What each failure kind means, for the warning the agent writes when the tunnel's failure changes. */
export const tunnelFailureText: Readonly<Record<TunnelFailureKind, string>> = {
  unreachable: 'the parent is unreachable; redialling every second or so',
  status: 'the parent answers the handshake with an error status; backing off up to a minute',
  unauthorized: 'the parent rejects the dedicated token (401); registration re-checks it',
  forbidden: 'the parent refuses the tunnel (403); registration re-checks the credentials',
  dropped: 'the parent ends each session before answering a ping; backing off up to a minute',
  tls: 'TLS with the parent fails; backing off up to a minute',
  other: 'backing off up to a minute',
};

/**
 * The dedicated credentials of the read the chart names (SessionInput: its run and `credentialsRead`):
 * read once and reused for every session of that read; the chart moves to a new read after a 401 or 403.
 * A read that failed is tried again by the next session. Only the read in use is kept.
 */
function credentialsOfRead(
  load: (parentUrl: string) => Promise<DedicatedCredentials>,
): (input: SessionInput) => Promise<DedicatedCredentials> {
  let inUse:
    { readonly instance: string; readonly read: number; readonly credentials: DedicatedCredentials } | undefined;
  return async (input) => {
    if (inUse?.instance === input.instance && inUse.read === input.credentialsRead) return inUse.credentials;
    const credentials = await load(input.parentUrl);
    inUse = { instance: input.instance, read: input.credentialsRead, credentials };
    return credentials;
  };
}

/** The stored dedicated credentials, from the child cluster's Secret, unless the deps say otherwise. */
function credentialsLoader(
  deps: SocketDeps,
  proxyFor: ProxyFunc,
): (parentUrl: string) => Promise<DedicatedCredentials> {
  return (
    deps.loadCredentials ??
    (async (parentUrl: string): Promise<DedicatedCredentials> => {
      if (deps.child === undefined || deps.systemNamespace === undefined) {
        throw new Error('socket: no child cluster to read the dedicated credentials from');
      }
      return (await loadParentAccess(deps.child, deps.systemNamespace, parentUrl, proxyFor)).credentials;
    })
  );
}

/** The socket statechart with the real effects provided. */
export function createSocketMachine(deps: SocketDeps): typeof socketMachine {
  const { log } = deps;
  const random = deps.random ?? Math.random;
  const proxyFor = deps.proxyFor ?? direct;
  const env: SessionEnv = {
    log,
    allowedTargets: deps.allowedTargets,
    limits: { ...defaultRelayLimits, ...deps.limits },
    random,
    proxyFor,
    generateMask: nonZeroMasks(),
    loggedOnce: new Set<string>(),
    credentials: credentialsOfRead(credentialsLoader(deps, proxyFor)),
    onRelay: deps.onRelay,
  };
  const session = fromCommandedObservable<SocketEvent, SessionCommand, SessionInput>((input, commands) =>
    sessionEvents(input, commands, env),
  );

  return socketMachine.provide({
    actors: { session },
    delays: socketDelays(random, deps.timing),
  });
}
