// The `parent-cluster` Secret in the child (spec §3.5): read at start (the dedicated credentials of an
// earlier registration) and written once a request is approved. The values go to the credentials
// vault; the statechart hears only what they look like (StoredCredentialsView) and whether the write
// worked.

import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api } from '../kube/client-node.ts';
import { fromPromise } from 'xstate';
import type { StoredCredentialsView } from '../../machines/registration/decisions.ts';
import { credentialsWrite } from '../../machines/registration/decisions.ts';
import type { StoreInput } from '../../machines/registration/machine.ts';
import { ApiFailure, classifyApiError, hasStatus } from '../kube/errors.ts';
import type { Logger } from '../logging/logger.ts';
import {
  buildCredentialsSecret,
  parentCredentialsSecret,
  storedCredentials,
  storedView,
} from '../parent/credentials-secret.ts';
import type { CredentialsVault } from './credentials-vault.ts';
import { absentOn404 } from './identity.ts';

export interface ChildSecretDeps {
  readonly child: KubeConfig;
  readonly namespace: string;
  /** `--cluster-reg-parent-url` as given: written into the Secret, compared byte for byte as Go does. */
  readonly parentUrlAsGiven: string;
  readonly vault: CredentialsVault;
  readonly log: Logger;
}

const inChild = (what: string, err: unknown): ApiFailure =>
  new ApiFailure('other', `${what}: ${classifyApiError(err, 'child').message}`, { cause: err });

/** The loadStoredCredentials and storeCredentials actors. */
export function childSecretActors(deps: ChildSecretDeps) {
  const { namespace: ns, vault, log } = deps;
  const core = deps.child.makeApiClient(CoreV1Api);
  const where = `Secret ${ns}/${parentCredentialsSecret}`;

  const loadStoredCredentials = fromPromise<StoredCredentialsView | undefined>(async () => {
    try {
      const secret = await core.readNamespacedSecret({ name: parentCredentialsSecret, namespace: ns });
      vault.keep('stored', storedCredentials(secret));
      return storedView(secret);
    } catch (err) {
      if (!hasStatus(err, 404)) throw inChild(`reading ${where} in the child`, err);
      vault.keep('stored', undefined);
      return undefined;
    }
  });

  /** Create, or replace with one PUT (atomic: a crash never leaves half-written credentials). */
  const write = async (
    body: ReturnType<typeof buildCredentialsSecret>,
  ): Promise<ReturnType<typeof credentialsWrite>> => {
    const existing = await core
      .readNamespacedSecret({ name: parentCredentialsSecret, namespace: ns })
      .catch(absentOn404);
    let decision = credentialsWrite(
      existing === undefined
        ? undefined
        : { type: existing.type, labels: existing.metadata?.labels, data: existing.data },
      { type: body.type, labels: body.metadata?.labels, data: body.data },
    );
    if (decision === 'create') {
      await core.createNamespacedSecret({ namespace: ns, body }).catch((err: unknown) => {
        if (!hasStatus(err, 409)) throw err;
        decision = 'replace'; // created meanwhile: replace it as below
      });
    }
    if (decision === 'replace')
      await core.replaceNamespacedSecret({ name: parentCredentialsSecret, namespace: ns, body });
    return decision;
  };

  const storeCredentials = fromPromise<undefined, StoreInput>(async ({ input }) => {
    const creds = input.credentials === undefined ? undefined : vault.get(input.credentials);
    if (creds === undefined) throw new ApiFailure('other', 'approved request carries no token');
    const body = buildCredentialsSecret({
      namespace: ns,
      clusterId: input.clusterId,
      clusterName: input.clusterName,
      dedicatedNamespace: input.dedicatedNamespace,
      parentUrl: deps.parentUrlAsGiven,
      credentials: creds,
    });
    const written = await write(body).catch((err: unknown) => {
      throw inChild(`storing credentials in ${where}`, err);
    });
    vault.keep('stored', creds);
    const fields = { secret: `${ns}/${parentCredentialsSecret}`, dedicatedNamespace: input.dedicatedNamespace };
    if (written === 'unchanged') log.debug(fields, 'the parent credentials are stored already: not written again');
    else log.info(fields, 'stored the parent credentials');
    return undefined;
  });

  return { loadStoredCredentials, storeCredentials };
}
