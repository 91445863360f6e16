import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ApiException, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate, type SelfSignedPair } from '../../../src/observability/self-signed.ts';
import { classifyParentError, parentKubeConfig } from '../../../src/registration/parent-client.ts';
import {
  approvedCredentials,
  buildCredentialsSecret,
  buildRequest,
  requestView,
  storedCredentials,
  storedView,
} from '../../../src/registration/wire.ts';

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

describe('classifyParentError', () => {
  it.each([
    [new ApiException(401, 'x', '{"message":"Unauthorized"}', {}), 'unauthorized', 'op: 401 Unauthorized'],
    [new ApiException(403, 'x', { message: 'forbidden: no' }, {}), 'forbidden', 'op: 403 forbidden: no'],
    [new ApiException(404, 'x', undefined, {}), 'notFound', 'op: 404 HTTP 404'],
    [new ApiException(422, 'x', undefined, {}), 'invalid', 'op: 422 HTTP 422'],
    [new ApiException(503, 'x', undefined, {}), 'unreachable', 'op: 503 HTTP 503'],
    [Object.assign(new Error('Forbidden'), { statusCode: 403 }), 'forbidden', 'op: 403 Forbidden'],
    [
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      }),
      'unreachable',
      'op: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:1',
    ],
  ])('%s → %s', (err, kind, message) => {
    const f = classifyParentError(err, 'op');
    expect(f.kind).toBe(kind);
    expect(f.message).toBe(message);
  });
});

describe('parent clients', () => {
  it('verify TLS against the approved CA, and skip it only without one (bootstrap)', () => {
    const bootstrap = parentKubeConfig('https://p:6443', 'abcdef.0123456789abcdef', undefined);
    expect(bootstrap.getCurrentCluster()).toMatchObject({ server: 'https://p:6443', skipTLSVerify: true });
    const dedicated = parentKubeConfig('https://p:6443', 'jwt', 'PEM');
    expect(dedicated.getCurrentCluster()).toMatchObject({
      skipTLSVerify: false,
      caData: Buffer.from('PEM').toString('base64'),
    });
    expect(dedicated.getCurrentUser()?.token).toBe('jwt');
    const systemRoots = parentKubeConfig('https://p:6443', 'jwt', '');
    expect(systemRoots.getCurrentCluster()).toMatchObject({ skipTLSVerify: false });
    expect(systemRoots.getCurrentCluster()?.caData).toBeUndefined();
  });

  describe('against a parent with a private CA', () => {
    let pair: SelfSignedPair = { certPem: '', keyPem: '' };
    let server: Server | undefined;
    let url = '';
    beforeAll(async () => {
      pair = await selfSignedCertificate('parent', ['127.0.0.1']);
      const s = createServer({ cert: pair.certPem, key: pair.keyPem }, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"gitVersion":"v1.35.4"}');
      });
      server = s;
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${String((s.address() as AddressInfo).port)}`;
    });
    afterAll(() => {
      server?.close();
    });
    const version = (caPem: string | undefined) =>
      parentKubeConfig(url, 'jwt', caPem).makeApiClient(VersionApi).getCode();

    it('trusts it with its CA', async () => {
      expect((await version(pair.certPem)).gitVersion).toBe('v1.35.4');
    });
    it('does not verify without a CA (as the Go agent)', async () => {
      expect((await version(undefined)).gitVersion).toBe('v1.35.4');
    });
    it('verifies against the system roots with an empty CA, which do not know it', async () => {
      const outcome = await version('').then(
        () => 'trusted',
        (err: unknown) => classifyParentError(err, 'GET /version').message,
      );
      expect(outcome).toMatch(/^GET \/version: DEPTH_ZERO_SELF_SIGNED_CERT /);
    });
  });
});
