// What tests use: the running parent + child environment, read from its descriptor. Works in any
// process (vitest workers, scripts); component faults go through the supervisor's control endpoint.

import { readFileSync } from 'node:fs';
import { KubeConfig, type ApiConstructor, type ApiType } from '@kubernetes/client-node';
import type { ComponentName } from './cluster.ts';
import type { ProcessStatus } from './process.ts';
import { callControl, type ComponentAction } from './control.ts';
import type { ClusterName, EnvDescriptor } from './environment.ts';
import {
  createBootstrapToken,
  installClusternetCrds,
  type BootstrapToken,
  type BootstrapTokenOptions,
} from './fixtures.ts';

/** Fault controls for one component of one cluster. */
export type ComponentControl = Readonly<Record<ComponentAction, () => Promise<ProcessStatus>>>;

export class TestEnv {
  readonly descriptor: EnvDescriptor;

  constructor(descriptor: EnvDescriptor) {
    this.descriptor = descriptor;
  }

  static fromFile(path: string): TestEnv {
    return new TestEnv(JSON.parse(readFileSync(path, 'utf8')) as EnvDescriptor);
  }

  get kubernetesVersion(): string {
    return this.descriptor.kubernetesVersion;
  }

  server(cluster: ClusterName): string {
    return this.descriptor.clusters[cluster].server;
  }

  caPem(cluster: ClusterName): string {
    return readFileSync(this.descriptor.clusters[cluster].caFile, 'utf8');
  }

  adminKubeconfigPath(cluster: ClusterName): string {
    return this.descriptor.clusters[cluster].adminKubeconfig;
  }

  /** A fresh KubeConfig with cluster-admin (system:masters) credentials. */
  adminKubeConfig(cluster: ClusterName): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.adminKubeconfigPath(cluster));
    return kc;
  }

  /** A KubeConfig that authenticates with a bearer token (bootstrap or ServiceAccount token). */
  tokenKubeConfig(cluster: ClusterName, token: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: cluster, server: this.server(cluster), caData: Buffer.from(this.caPem(cluster)).toString('base64') },
      ],
      users: [{ name: 'token', token }],
      contexts: [{ name: 'token', cluster, user: 'token' }],
      currentContext: 'token',
    });
    return kc;
  }

  adminClient<T extends ApiType>(cluster: ClusterName, api: ApiConstructor<T>): T {
    return this.adminKubeConfig(cluster).makeApiClient(api);
  }

  createBootstrapToken(cluster: ClusterName, opts: BootstrapTokenOptions = {}): Promise<BootstrapToken> {
    return createBootstrapToken(this.adminKubeConfig(cluster), opts);
  }

  /** Installs Clusternet's CRDs into the parent and waits until they are Established. */
  installClusternetCrds(): Promise<string[]> {
    return installClusternetCrds(this.adminKubeConfig('parent'));
  }

  component(cluster: ClusterName, component: ComponentName): ComponentControl {
    const call = (action: ComponentAction) => async (): Promise<ProcessStatus> =>
      (await callControl(
        this.descriptor.control,
        'POST',
        `/clusters/${cluster}/components/${component}/${action}`,
      )) as ProcessStatus;
    return {
      start: call('start'),
      stop: call('stop'),
      kill: call('kill'),
      restart: call('restart'),
      pause: call('pause'),
      resume: call('resume'),
    };
  }

  async status(): Promise<Record<ClusterName, ProcessStatus[]>> {
    return (await callControl(this.descriptor.control, 'GET', '/status')) as Record<ClusterName, ProcessStatus[]>;
  }
}
