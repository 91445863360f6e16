// The effects of the registration statechart, against the real child and parent apiservers: the
// cluster identity (identity.ts), the child's `parent-cluster` Secret (child-secret.ts) and the
// ClusterRegistrationRequest in the parent (parent-request.ts). The credentials' values stay in the
// vault (credentials-vault.ts); the statechart chooses among them by name and only sees whether and
// how they work.

import type { KubeConfig } from '@kubernetes/client-node';
import { registrationMachine, type RegistrationContext } from '../../machines/registration/machine.ts';
import { registrationDelays } from '../../machines/registration/timing.ts';
import type { AgentConfig } from '../config/config.ts';
import type { ProxyFunc } from '../kube/proxy.ts';
import type { Logger } from '../logging/logger.ts';
import { childSecretActors } from './child-secret.ts';
import { CredentialsVault } from './credentials-vault.ts';
import { identityResolver } from './identity.ts';
import { parentRequestActors } from './parent-request.ts';

export interface RegistrationDeps {
  readonly config: AgentConfig;
  readonly child: KubeConfig;
  readonly log: Logger;
  /** The proxy for the parent (HTTPS_PROXY/NO_PROXY; see src/kube/proxy.ts). */
  readonly proxyFor: ProxyFunc;
  readonly random?: () => number;
  /** How often a denied request is re-read (default 30 s). */
  readonly approvalResyncMs?: number;
}

/** The registration statechart with the real effects provided. */
export function createRegistrationMachine(deps: RegistrationDeps): typeof registrationMachine {
  const { config, child, log } = deps;
  const reg = config.registration;
  const namespace = config.systemNamespace;
  const random = deps.random ?? Math.random;
  const vault = new CredentialsVault(reg.parentUrl, reg.token, deps.proxyFor);
  const secret = childSecretActors({ child, namespace, parentUrlAsGiven: reg.parentUrlAsGiven, vault, log });
  return registrationMachine.provide({
    actors: {
      resolveIdentity: identityResolver({ child, namespace, leaseName: config.leaderElection.leaseName, log }),
      ...secret,
      ...parentRequestActors({ registration: reg, vault, log, random }),
    },
    actions: {
      warnLackingPermission: ({ context }: { context: RegistrationContext }) => {
        log.warn(
          { err: context.lastFailure },
          'the parent refuses the dedicated credentials a permission (403): they stay in use and are checked again later',
        );
      },
    },
    delays: {
      ...registrationDelays(random, {
        credentialCheckIntervalMs: config.extensions.credentialCheckIntervalMs,
        ...(deps.approvalResyncMs === undefined ? {} : { approvalResyncMs: deps.approvalResyncMs }),
      }),
    },
  });
}
