import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyApiError } from '../../../src/kube/errors.ts';
import { selfSignedCertificate, type SelfSignedPair } from '../../../src/observability/self-signed.ts';
import { parentKubeConfig } from '../../../src/parent/kube-config.ts';

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
        (err: unknown) => classifyApiError(err, 'GET /version').message,
      );
      expect(outcome).toMatch(/^GET \/version: DEPTH_ZERO_SELF_SIGNED_CERT /);
    });
  });
});
