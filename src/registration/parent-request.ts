// The ClusterRegistrationRequest in the parent (spec §3.2): created with the credentials the chart
// chose, read (GET; the hub grants only get/create) until approved, and read once more with the
// dedicated credentials to check them. An approved request's credentials go to the vault.

import type { KubeConfig } from '@kubernetes/client-node';
import { CustomObjectsApi } from '../kube/client-node.ts';
import { fromPromise } from 'xstate';
import { generateClusterName } from '../../machines/registration/decisions.ts';
import type {
  Credentials,
  RequestInput,
  RequestView,
  SubmitInput,
  VerifyInput,
} from '../../machines/registration/machine.ts';
import type { AgentConfig } from '../config/config.ts';
import { ApiFailure, classifyApiError, hasStatus } from '../kube/errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { CredentialsVault } from './credentials-vault.ts';
import {
  approvedCredentials,
  buildRequest,
  crrGroup,
  crrPlural,
  crrVersion,
  requestName,
  requestView,
  type RequestObject,
} from './wire.ts';

export interface ParentRequestDeps {
  readonly registration: AgentConfig['registration'];
  readonly vault: CredentialsVault;
  readonly log: Logger;
  readonly random: () => number;
}

const getRequest = async (kc: KubeConfig, clusterId: string): Promise<RequestObject> =>
  (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({
    group: crrGroup,
    version: crrVersion,
    plural: crrPlural,
    name: requestName(clusterId),
  })) as RequestObject;

/** The submitRequest, readRequest and verifyCredentials actors. */
export function parentRequestActors(deps: ParentRequestDeps) {
  const { registration: reg, vault, log, random } = deps;
  const kubeConfig = (name: Credentials): KubeConfig => {
    const kc = vault.kubeConfig(name);
    if (kc === undefined) throw new ApiFailure('unauthorized', `no ${name} credentials held`);
    return kc;
  };

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
    const what = `creating ClusterRegistrationRequest ${requestName(input.clusterId)} with ${input.credentials} credentials`;
    try {
      await kubeConfig(input.credentials)
        .makeApiClient(CustomObjectsApi)
        .createClusterCustomObject({ group: crrGroup, version: crrVersion, plural: crrPlural, body });
      log.info(
        { request: requestName(input.clusterId), clusterName, credentials: input.credentials },
        'created ClusterRegistrationRequest',
      );
    } catch (err) {
      if (!hasStatus(err, 409)) throw classifyApiError(err, what);
    }
    return undefined;
  });

  const readRequest = fromPromise<RequestView, RequestInput>(async ({ input }) => {
    try {
      const crr = await getRequest(kubeConfig(input.credentials), input.clusterId);
      const approved = approvedCredentials(crr);
      if (approved !== undefined) vault.keep('approved', approved);
      return requestView(crr);
    } catch (err) {
      throw classifyApiError(err, `reading ClusterRegistrationRequest ${requestName(input.clusterId)}`);
    }
  });

  const verifyCredentials = fromPromise<undefined, VerifyInput>(async ({ input }) => {
    const kc = input.credentials === undefined ? undefined : vault.kubeConfig(input.credentials);
    if (kc === undefined) throw new ApiFailure('unauthorized', 'no dedicated credentials');
    try {
      // TLS is verified against the approved CA here: this is the client every later call uses.
      await getRequest(kc, input.clusterId);
    } catch (err) {
      throw classifyApiError(err, 'checking the dedicated credentials');
    }
    return undefined;
  });

  return { submitRequest, readRequest, verifyCredentials };
}
