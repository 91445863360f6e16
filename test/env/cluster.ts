// One test cluster: etcd, kube-apiserver and kube-controller-manager as real processes on loopback, with
// its own PKI, an admin kubeconfig and bootstrap-token authentication enabled.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpGet } from './net.ts';
import { createClusterPki, type ClusterPki } from './pki.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { ManagedProcess, type ProcessStatus } from './process.ts';

export const componentNames = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;
export const componentActions = ['start', 'stop', 'kill', 'restart', 'pause', 'resume'] as const;
export type ComponentAction = (typeof componentActions)[number];
export type ComponentName = (typeof componentNames)[number];

export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
}

export interface ClusterOptions {
  /** `parent` or `child`; names files, certificates and the etcd member. */
  readonly name: string;
  readonly dir: string;
  readonly binDir: string;
  readonly kubernetesVersion: string;
  readonly ports: ClusterPorts;
  /** Address for `--advertise-address` (the test network namespace's own address), if any. */
  readonly advertiseAddress?: string;
}

/** What a test (or a person) needs to reach a running cluster. */
export interface ClusterInfo {
  readonly name: string;
  readonly server: string;
  readonly caFile: string;
  /** The CA of the apiserver's front-proxy (aggregator) client certificate. */
  readonly frontProxyCaFile: string;
  /** The address the apiserver advertises (and aggregated API servers can listen on), if any. */
  readonly advertiseAddress: string | undefined;
  readonly adminKubeconfig: string;
  readonly kubernetesVersion: string;
  readonly dir: string;
  readonly ports: ClusterPorts;
}

// Only the controllers Clusternet's flows depend on: token Secrets, default ServiceAccounts, namespace
// deletion, garbage collection, EndpointSlices, and the kube-root-ca.crt ConfigMap.
const controllers = [
  'serviceaccount-token-controller',
  'serviceaccount-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'root-ca-certificate-publisher-controller',
];

export class Cluster {
  readonly opts: ClusterOptions;
  readonly info: ClusterInfo;
  #pki: ClusterPki | undefined;
  #components: Map<ComponentName, ManagedProcess> | undefined;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.info = {
      name: opts.name,
      server: `https://127.0.0.1:${String(opts.ports.apiserver)}`,
      caFile: join(opts.dir, 'pki', 'ca.crt'),
      frontProxyCaFile: join(opts.dir, 'pki', 'front-proxy-ca.crt'),
      advertiseAddress: opts.advertiseAddress,
      adminKubeconfig: join(opts.dir, 'admin.kubeconfig'),
      kubernetesVersion: opts.kubernetesVersion,
      dir: opts.dir,
      ports: opts.ports,
    };
  }

  component(name: ComponentName): ManagedProcess {
    const c = this.#components?.get(name);
    if (c === undefined) throw new Error(`cluster ${this.opts.name} is not prepared`);
    return c;
  }

  /**
   * A fault test's action on one component. An apiserver started again after a stop or kill also
   * restarts the cluster's kube-controller-manager: its informers lost their watches and come back only
   * after client-go's reflector back-off, and meanwhile no controller acts (seen: a ServiceAccount token
   * Secret filled 105 s after the apiserver was back, so the next test file's approver timed out).
   * A restarted manager lists afresh within a second. Pausing the apiserver keeps the connections, so
   * resume needs nothing.
   */
  async act(name: ComponentName, action: ComponentAction): Promise<ProcessStatus> {
    const proc = this.component(name);
    const cameBack =
      name === 'kube-apiserver' && (action === 'restart' || (action === 'start' && proc.state === 'stopped'));
    await proc[action]();
    const manager = this.component('kube-controller-manager');
    if (cameBack && proc.state === 'running' && manager.state === 'running') await manager.restart();
    return proc.status();
  }

  /** Creates the PKI and kubeconfig, then starts etcd → kube-apiserver → kube-controller-manager. */
  async start(): Promise<void> {
    await this.#prepare();
    for (const name of componentNames) await this.component(name).start();
  }

  /** Stops every component, in reverse start order. */
  async stop(): Promise<void> {
    if (this.#components === undefined) return;
    for (const name of [...componentNames].reverse()) await this.component(name).stop();
  }

  status(): ProcessStatus[] {
    return componentNames.map((n) => this.component(n).status());
  }

  async #prepare(): Promise<void> {
    if (this.#components !== undefined) return;
    const { dir, name } = this.opts;
    await mkdir(join(dir, 'logs'), { recursive: true });
    const pki = await createClusterPki(join(dir, 'pki'), {
      caName: `${name}-ca`,
      ...(this.opts.advertiseAddress === undefined ? {} : { extraIps: [this.opts.advertiseAddress] }),
    });
    this.#pki = pki;
    await writeKubeconfig(this.info.adminKubeconfig, {
      name: `${name}-admin`,
      server: this.info.server,
      caFile: pki.caCert,
      user: { kind: 'certificate', certFile: pki.adminCert, keyFile: pki.adminKey },
    });
    const ca = await readFile(pki.caCert);
    this.#components = new Map<ComponentName, ManagedProcess>([
      ['etcd', this.#etcd()],
      ['kube-apiserver', this.#apiserver(pki, ca)],
      ['kube-controller-manager', this.#controllerManager(pki)],
    ]);
  }

  #bin(name: string): string {
    return join(this.opts.binDir, name);
  }

  #log(component: ComponentName): string {
    return join(this.opts.dir, 'logs', `${component}.log`);
  }

  #etcd(): ManagedProcess {
    const { name, dir, ports } = this.opts;
    const client = `http://127.0.0.1:${String(ports.etcdClient)}`;
    const peer = `http://127.0.0.1:${String(ports.etcdPeer)}`;
    return new ManagedProcess({
      name: `${name}/etcd`,
      command: this.#bin('etcd'),
      args: [
        `--name=${name}`,
        `--data-dir=${join(dir, 'etcd')}`,
        '--log-level=warn',
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${name}=${peer}`,
        '--unsafe-no-fsync=true', // test data only: fsync dominates start-up and write latency on these disks
        '--quota-backend-bytes=4294967296',
      ],
      logFile: this.#log('etcd'),
      readyTimeoutMs: 30_000,
      ready: async () => {
        const r = await httpGet(`${client}/health`, { timeoutMs: 2000 });
        return r.status === 200 && r.body.includes('"health":"true"');
      },
    });
  }

  #apiserver(pki: ClusterPki, ca: Buffer): ManagedProcess {
    const { name, ports, advertiseAddress } = this.opts;
    return new ManagedProcess({
      name: `${name}/kube-apiserver`,
      command: this.#bin('kube-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${String(ports.etcdClient)}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${String(ports.apiserver)}`,
        ...(advertiseAddress === undefined ? [] : [`--advertise-address=${advertiseAddress}`]),
        `--cert-dir=${join(this.opts.dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.apiserverCert}`,
        `--tls-private-key-file=${pki.apiserverKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--enable-bootstrap-token-auth=true',
        '--authorization-mode=Node,RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${pki.frontProxyClientCert}`,
        `--proxy-client-key-file=${pki.frontProxyClientKey}`,
        // Aggregated APIs (a hub's proxies.clusternet.io) are reached at their endpoint address: there
        // is no kube-proxy to route a Service's cluster IP.
        '--enable-aggregator-routing=true',
        '--profiling=false',
        '--v=1',
      ],
      logFile: this.#log('kube-apiserver'),
      readyTimeoutMs: 120_000,
      ready: async () => {
        const r = await httpGet(`${this.info.server}/readyz`, { ca, timeoutMs: 3000 });
        return r.status === 200 && r.body === 'ok';
      },
    });
  }

  #controllerManager(pki: ClusterPki): ManagedProcess {
    const { name, ports } = this.opts;
    const kubeconfig = this.info.adminKubeconfig;
    return new ManagedProcess({
      name: `${name}/kube-controller-manager`,
      command: this.#bin('kube-controller-manager'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${String(ports.controllerManager)}`,
        `--cert-dir=${join(this.opts.dir, 'kcm-certs')}`,
        '--leader-elect=false',
        `--controllers=${controllers.join(',')}`,
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        '--use-service-account-credentials=false',
        '--v=1',
      ],
      logFile: this.#log('kube-controller-manager'),
      readyTimeoutMs: 60_000,
      ready: async () => {
        const r = await httpGet(`https://127.0.0.1:${String(ports.controllerManager)}/healthz`, {
          timeoutMs: 2000,
        });
        return r.status === 200 && r.body === 'ok';
      },
    });
  }

  /** The PKI of a prepared cluster (for tests that need the CA key, e.g. to mint client certs). */
  get pki(): ClusterPki {
    if (this.#pki === undefined) throw new Error(`cluster ${this.opts.name} is not prepared`);
    return this.#pki;
  }
}
