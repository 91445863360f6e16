// The effects of the registration statechart, against the real child and parent apiservers. The
// credentials themselves (bootstrap token, stored or approved dedicated token, parent CA) stay here,
// in this closure; the statechart only sees whether and how they work.

import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '../kube/client-node.ts';
import { fromPromise } from 'xstate';
import {
  credentialsWrite,
  decideClusterId,
  generateClusterName,
  legacyClusterIdAnnotation,
  type LeaseView,
} from '../../machines/registration/decisions.ts';
import {
  registrationMachine,
  type RegistrationContext,
  type RequestInput,
  type StoreInput,
  type SubmitInput,
} from '../../machines/registration/machine.ts';
import { registrationDelays } from '../../machines/registration/timing.ts';
import type { AgentConfig } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import type { ProxyFunc } from '../kube/proxy.ts';
import { classifyParentError, dedicatedKubeConfig, parentKubeConfig, ParentFailure } from './parent-client.ts';
import {
  approvedCredentials,
  buildCredentialsSecret,
  buildRequest,
  crrGroup,
  crrPlural,
  crrVersion,
  labels,
  parentCredentialsSecret,
  requestName,
  requestView,
  storedCredentials,
  storedView,
  type DedicatedCredentials,
  type RequestObject,
} from './wire.ts';

/** The v0.7.0 agent's Lease: its UID is adopted as the cluster ID (§2). */
export const legacyLeaseName = 'self-cluster';

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

const isStatus = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

/** The registration statechart with the real effects provided. */
export function createRegistrationMachine(deps: RegistrationDeps): typeof registrationMachine {
  const { config, child, log, proxyFor } = deps;
  const reg = config.registration;
  const ns = config.systemNamespace;
  const random = deps.random ?? Math.random;
  const core = child.makeApiClient(CoreV1Api);
  const coordination = child.makeApiClient(CoordinationV1Api);
  const bootstrap = parentKubeConfig(reg.parentUrl, reg.token, undefined, proxyFor);
  let stored: DedicatedCredentials | undefined;
  let approved: DedicatedCredentials | undefined;

  const parentConfig = (source: RequestInput['source']): KubeConfig => {
    const creds = approved ?? stored;
    return source === 'stored' && creds !== undefined ? dedicatedKubeConfig(reg.parentUrl, creds, proxyFor) : bootstrap;
  };
  const noteApproval = (crr: RequestObject): void => {
    approved = approvedCredentials(crr) ?? approved;
  };

  const readLease = async (name: string): Promise<V1Lease | undefined> =>
    coordination.readNamespacedLease({ name, namespace: ns }).catch((err: unknown) => {
      if (isStatus(err, 404)) return undefined;
      throw err;
    });
  const leaseView = (l: V1Lease): LeaseView => ({
    uid: l.metadata?.uid ?? '',
    annotations: l.metadata?.annotations ?? {},
  });

  const resolveIdentity = fromPromise(async () => {
    const leaseName = config.leaderElection.leaseName;
    try {
      // Registration runs only while leading, and the elector creates the Lease on its first campaign,
      // so it exists here; it is only read. (With --leader-elect=false it must exist already, as for
      // the Go agent.)
      const lease = await readLease(leaseName);
      if (lease === undefined)
        throw new ParentFailure(
          'other',
          `Lease ${ns}/${leaseName} not found (leader election creates it; with --leader-elect=false it must exist)`,
        );
      const legacy = leaseName === legacyLeaseName ? undefined : await readLease(legacyLeaseName);
      // The ID this child was registered with, if it was: a recreated Lease must not make a second cluster.
      const known = await core
        .readNamespacedSecret({ name: parentCredentialsSecret, namespace: ns })
        .then((s) => s.metadata?.labels?.[labels.clusterId])
        .catch((err: unknown) => {
          if (isStatus(err, 404)) return undefined;
          throw err;
        });
      const decision = decideClusterId(leaseView(lease), legacy === undefined ? undefined : leaseView(legacy), known);
      if (decision.replacedLeaseUid !== undefined)
        log.warn(
          { clusterId: decision.clusterId, leaseUid: decision.replacedLeaseUid },
          `Lease ${ns}/${leaseName} is not the one this cluster registered with (deleted and recreated?): keeping cluster ID ${decision.clusterId}, recorded as its ${legacyClusterIdAnnotation} annotation`,
        );
      if (decision.annotate !== undefined) {
        await coordination.patchNamespacedLease(
          {
            name: leaseName,
            namespace: ns,
            body: { metadata: { annotations: { [legacyClusterIdAnnotation]: decision.annotate } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        if (decision.replacedLeaseUid === undefined)
          log.info(
            { clusterId: decision.clusterId },
            `adopted the cluster ID of the v0.7.0 Lease ${ns}/${legacyLeaseName}`,
          );
      }
      return { clusterId: decision.clusterId };
    } catch (err) {
      throw new ParentFailure(
        'other',
        `reading the cluster identity from Lease ${ns}/${leaseName} in the child: ${classifyParentError(err, 'child').message}`,
        { cause: err },
      );
    }
  });

  const loadStoredCredentials = fromPromise(async () => {
    try {
      const secret = await core.readNamespacedSecret({ name: parentCredentialsSecret, namespace: ns });
      stored = storedCredentials(secret);
      return storedView(secret);
    } catch (err) {
      if (isStatus(err, 404)) {
        stored = undefined;
        return undefined;
      }
      throw new ParentFailure(
        'other',
        `reading Secret ${ns}/${parentCredentialsSecret} in the child: ${classifyParentError(err, 'child').message}`,
        { cause: err },
      );
    }
  });

  const submitRequest = fromPromise<undefined, SubmitInput>(async ({ input }) => {
    // A generated name is used only in a create that succeeds; afterwards the CRR's label is adopted.
    const clusterName = input.clusterName ?? generateClusterName(reg.clusterNamePrefix, random);
    const body = buildRequest({
      clusterId: input.clusterId,
      clusterName,
      clusterType: reg.clusterType,
      syncMode: reg.syncMode,
      clusterNamespace: reg.clusterNamespace,
      clusterLabels: reg.clusterLabels,
    });
    if (input.source === 'bootstrap') approved = undefined;
    try {
      await parentConfig(input.source)
        .makeApiClient(CustomObjectsApi)
        .createClusterCustomObject({ group: crrGroup, version: crrVersion, plural: crrPlural, body });
      log.info(
        { request: requestName(input.clusterId), clusterName, credentials: input.source },
        'created ClusterRegistrationRequest',
      );
    } catch (err) {
      if (!isStatus(err, 409))
        throw classifyParentError(
          err,
          `creating ClusterRegistrationRequest ${requestName(input.clusterId)} with ${input.source} credentials`,
        );
    }
    return undefined;
  });

  const getRequest = async (kc: KubeConfig, clusterId: string): Promise<RequestObject> =>
    (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({
      group: crrGroup,
      version: crrVersion,
      plural: crrPlural,
      name: requestName(clusterId),
    })) as RequestObject;

  const readRequest = fromPromise<ReturnType<typeof requestView>, RequestInput>(async ({ input }) => {
    try {
      const crr = await getRequest(parentConfig(input.source), input.clusterId);
      noteApproval(crr);
      return requestView(crr);
    } catch (err) {
      throw classifyParentError(err, `reading ClusterRegistrationRequest ${requestName(input.clusterId)}`);
    }
  });

  const storeCredentials = fromPromise<undefined, StoreInput>(async ({ input }) => {
    const creds = approved;
    if (creds === undefined) throw new ParentFailure('other', 'approved request carries no token');
    const body = buildCredentialsSecret({
      namespace: ns,
      clusterId: input.clusterId,
      clusterName: input.clusterName,
      dedicatedNamespace: input.dedicatedNamespace,
      parentUrl: reg.parentUrlAsGiven,
      credentials: creds,
    });
    let write: ReturnType<typeof credentialsWrite>;
    try {
      const existing = await core
        .readNamespacedSecret({ name: parentCredentialsSecret, namespace: ns })
        .catch((err: unknown) => {
          if (isStatus(err, 404)) return undefined;
          throw err;
        });
      write = credentialsWrite(
        existing === undefined
          ? undefined
          : { type: existing.type, labels: existing.metadata?.labels, data: existing.data },
        { type: body.type, labels: body.metadata?.labels, data: body.data },
      );
      if (write === 'create') {
        await core.createNamespacedSecret({ namespace: ns, body }).catch((err: unknown) => {
          if (!isStatus(err, 409)) throw err;
          write = 'replace'; // created meanwhile: replace it as below
        });
      }
      // One PUT replaces the whole Secret atomically: a crash never leaves half-written credentials.
      if (write === 'replace')
        await core.replaceNamespacedSecret({ name: parentCredentialsSecret, namespace: ns, body });
    } catch (err) {
      throw new ParentFailure(
        'other',
        `storing credentials in Secret ${ns}/${parentCredentialsSecret}: ${classifyParentError(err, 'child').message}`,
        { cause: err },
      );
    }
    stored = creds;
    const fields = { secret: `${ns}/${parentCredentialsSecret}`, dedicatedNamespace: input.dedicatedNamespace };
    if (write === 'unchanged') log.debug(fields, 'the parent credentials are stored already: not written again');
    else log.info(fields, 'stored the parent credentials');
    return undefined;
  });

  const verifyCredentials = fromPromise<undefined, RequestInput>(async ({ input }) => {
    const creds = approved ?? stored;
    if (creds === undefined) throw new ParentFailure('unauthorized', 'no dedicated credentials');
    try {
      // TLS is verified against the approved CA here: this is the client every later call uses.
      await getRequest(dedicatedKubeConfig(reg.parentUrl, creds, proxyFor), input.clusterId);
    } catch (err) {
      throw classifyParentError(err, 'checking the dedicated credentials');
    }
    return undefined;
  });

  return registrationMachine.provide({
    actors: {
      resolveIdentity,
      loadStoredCredentials,
      submitRequest,
      readRequest,
      storeCredentials,
      verifyCredentials,
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
