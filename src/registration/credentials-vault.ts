// The values of the credentials registration uses, by the names its statechart chooses among
// ('bootstrap', 'stored', 'approved'). Which ones are held and which one a step uses is the chart's
// context (machines/registration/machine.ts: `held`, `credentialsFor`); this only keeps the secrets,
// which never enter a context or an event.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Credentials } from '../../machines/registration/machine.ts';
import type { ProxyFunc } from '../kube/proxy.ts';
import type { DedicatedCredentials } from '../parent/credentials-secret.ts';
import { dedicatedKubeConfig, parentKubeConfig } from '../parent/kube-config.ts';

export class CredentialsVault {
  private readonly parentUrl: string;
  private readonly proxyFor: ProxyFunc;
  private readonly bootstrap: KubeConfig;
  private readonly dedicated = new Map<'stored' | 'approved', DedicatedCredentials>();

  constructor(parentUrl: string, bootstrapToken: string, proxyFor: ProxyFunc) {
    this.parentUrl = parentUrl;
    this.proxyFor = proxyFor;
    this.bootstrap = parentKubeConfig(parentUrl, bootstrapToken, undefined, proxyFor);
  }

  /** Keeps (or, with undefined, forgets) the values of the dedicated credentials named `name`. */
  keep(name: 'stored' | 'approved', credentials: DedicatedCredentials | undefined): void {
    if (credentials === undefined) this.dedicated.delete(name);
    else this.dedicated.set(name, credentials);
  }

  get(name: 'stored' | 'approved'): DedicatedCredentials | undefined {
    return this.dedicated.get(name);
  }

  /**
   * A client configuration for the parent with the credentials named: the bootstrap token without TLS
   * verification, dedicated ones verified against their CA. Undefined when those are not held.
   */
  kubeConfig(name: Credentials): KubeConfig | undefined {
    if (name === 'bootstrap') return this.bootstrap;
    const c = this.dedicated.get(name);
    return c === undefined ? undefined : dedicatedKubeConfig(this.parentUrl, c, this.proxyFor);
  }
}
