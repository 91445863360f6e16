import { describe, expect, it } from 'vitest';
import { buildCredentialsSecret, storedCredentials, storedView } from '../../../src/parent/credentials-secret.ts';
import { approvedCredentials, buildRequest, requestView } from '../../../src/registration/wire.ts';

const id = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

describe('the ClusterRegistrationRequest', () => {
  it('is what the Go agent POSTs, optional fields omitted when empty', () => {
    expect(
      buildRequest({
        clusterId: id,
        clusterName: 'c1',
        clusterType: 'EdgeCluster',
        syncMode: 'Pull',
        clusterNamespace: undefined,
        clusterLabels: {},
      }),
    ).toEqual({
      apiVersion: 'clusters.clusternet.io/v1beta1',
      kind: 'ClusterRegistrationRequest',
      metadata: {
        name: `clusternet-${id}`,
        labels: {
          'clusters.clusternet.io/registered-by': 'clusternet-agent',
          'clusters.clusternet.io/cluster-id': id,
          'clusters.clusternet.io/cluster-name': 'c1',
        },
      },
      spec: { clusterId: id, clusterType: 'EdgeCluster', clusterName: 'c1', syncMode: 'Pull' },
    });
    const full = buildRequest({
      clusterId: id,
      clusterName: 'c1',
      clusterType: 'StandardCluster',
      syncMode: 'Dual',
      clusterNamespace: 'ns',
      clusterLabels: { a: 'b' },
    });
    expect(full.spec).toEqual({
      clusterId: id,
      clusterType: 'StandardCluster',
      clusterName: 'c1',
      clusterNamespace: 'ns',
      syncMode: 'Dual',
      clusterLabels: { a: 'b' },
    });
  });

  it('is seen by the machine without its token or CA', () => {
    const crr = {
      metadata: { labels: { 'clusters.clusternet.io/cluster-name': 'adopted' } },
      status: {
        result: 'Approved',
        dedicatedNamespace: 'clusternet-x',
        managedClusterName: 'adopted',
        token: Buffer.from('jwt.a.b').toString('base64'),
        caCertificate: Buffer.from('PEM').toString('base64'),
        errorMessage: '',
      },
    };
    const view = requestView(crr);
    expect(view).toEqual({
      result: 'Approved',
      errorMessage: undefined,
      clusterName: 'adopted',
      dedicatedNamespace: 'clusternet-x',
      managedClusterName: 'adopted',
      carriesCredentials: true,
    });
    expect(JSON.stringify(view)).not.toContain('jwt');
    expect(approvedCredentials(crr)).toEqual({ token: 'jwt.a.b', caPem: 'PEM' });
    expect(approvedCredentials({ status: { result: 'Denied' } })).toBeUndefined();
    expect(approvedCredentials({ status: { result: 'Approved', token: Buffer.from('t').toString('base64') } })).toEqual(
      { token: 't', caPem: undefined },
    );
    // Present but empty: the system roots (spec §3.1), not "no CA".
    expect(
      approvedCredentials({
        status: { result: 'Approved', token: Buffer.from('t').toString('base64'), caCertificate: '' },
      }),
    ).toEqual({ token: 't', caPem: '' });
  });
});

describe('the parent-cluster Secret', () => {
  it('has the Go agent’s keys and labels, and reads back', () => {
    const secret = buildCredentialsSecret({
      namespace: 'clusternet-system',
      clusterId: id,
      clusterName: 'c1',
      dedicatedNamespace: 'clusternet-x',
      parentUrl: 'https://p:6443',
      credentials: { token: 'jwt.a.b', caPem: 'PEM' },
    });
    expect(secret.metadata).toEqual({
      name: 'parent-cluster',
      namespace: 'clusternet-system',
      labels: {
        'clusters.clusternet.io/bootstrapping': 'credentials-auto',
        'clusters.clusternet.io/cluster-id': id,
        'clusters.clusternet.io/cluster-name': 'c1',
      },
    });
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['apiserver-advertise-url', 'ca.crt', 'namespace', 'token']);
    expect(storedView(secret)).toEqual({
      parentUrl: 'https://p:6443',
      hasToken: true,
      hasCa: true,
      namespace: 'clusternet-x',
    });
    expect(storedCredentials(secret)).toEqual({ token: 'jwt.a.b', caPem: 'PEM' });
  });

  it.each([
    [{ 'ca.crt': 'PEM' }, 'PEM'],
    [{ 'ca.crt': '' }, ''], // present but empty: verified against the system roots, as the Go agent
    [{}, undefined], // absent: not verified, as the Go agent
  ])('reads ca.crt %j as %j', (ca, caPem) => {
    const data = Object.fromEntries(
      Object.entries({ token: 'jwt.a.b', ...ca }).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    expect(storedCredentials({ data })).toEqual({ token: 'jwt.a.b', caPem });
  });
});
