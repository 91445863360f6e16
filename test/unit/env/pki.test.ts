import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiserverSans, createClusterPki, type ClusterPki } from '../../env/pki.ts';

const cert = (path: string): X509Certificate => new X509Certificate(readFileSync(path));

describe('createClusterPki', () => {
  let dir: string;
  let pki: ClusterPki;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pki-test-'));
    pki = await createClusterPki(dir, { caName: 'unit-ca', extraIps: ['10.255.0.1'] });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a self-signed cluster CA', () => {
    const ca = cert(pki.caCert);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=unit-ca');
    expect(ca.verify(ca.publicKey)).toBe(true);
  });

  it('signs a serving certificate covering loopback, the service IP, kubernetes.default names and extra IPs', () => {
    const ca = cert(pki.caCert);
    const serving = cert(pki.apiserverCert);
    expect(serving.ca).toBe(false);
    expect(serving.checkIssued(ca)).toBe(true);
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
    for (const host of ['localhost', 'kubernetes.default.svc.cluster.local'])
      expect(serving.checkHost(host)).toBe(host);
    for (const ip of ['127.0.0.1', '10.0.0.1', '10.255.0.1']) expect(serving.checkIP(ip)).toBe(ip);
    expect(serving.checkIP('192.0.2.1')).toBeUndefined();
  });

  it('signs an admin client certificate in group system:masters', () => {
    const admin = cert(pki.adminCert);
    expect(admin.subject.split('\n')).toEqual(['O=system:masters', 'CN=test-admin']);
    expect(admin.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    expect(admin.verify(cert(pki.caCert).publicKey)).toBe(true);
    expect(createPublicKey(createPrivateKey(readFileSync(pki.adminKey))).export({ format: 'pem', type: 'spki' })).toBe(
      admin.publicKey.export({ format: 'pem', type: 'spki' }),
    );
  });

  it('keeps the front-proxy chain separate from the cluster CA', () => {
    const client = cert(pki.frontProxyClientCert);
    expect(client.subject).toBe('CN=front-proxy-client');
    expect(client.verify(cert(pki.frontProxyCaCert).publicKey)).toBe(true);
    expect(client.verify(cert(pki.caCert).publicKey)).toBe(false);
  });

  it('writes a matching service-account key pair', () => {
    const data = Buffer.from('token payload');
    const signature = sign('sha256', data, readFileSync(pki.serviceAccountKey));
    expect(verify('sha256', data, readFileSync(pki.serviceAccountPub), signature)).toBe(true);
  });

  it('produces chains openssl itself accepts', () => {
    const out = execFileSync('openssl', ['verify', '-CAfile', pki.caCert, pki.apiserverCert, pki.adminCert], {
      encoding: 'utf8',
    });
    expect(out).toBe(`${pki.apiserverCert}: OK\n${pki.adminCert}: OK\n`);
  });

  it('gives two clusters unrelated CAs', async () => {
    const other = await createClusterPki(join(dir, 'other'), { caName: 'other-ca' });
    expect(cert(pki.apiserverCert).verify(cert(other.caCert).publicKey)).toBe(false);
  });
});

describe('apiserverSans', () => {
  it.each([
    [[], ['IP:127.0.0.1', 'IP:10.0.0.1']],
    [['10.255.0.1'], ['IP:127.0.0.1', 'IP:10.0.0.1', 'IP:10.255.0.1']],
    [['127.0.0.1'], ['IP:127.0.0.1', 'IP:10.0.0.1']],
  ])('extra IPs %j → %j (deduplicated)', (extra, ips) => {
    const sans = apiserverSans(extra);
    expect(sans.filter((s) => s.startsWith('IP:'))).toEqual(ips);
    expect(sans).toContain('DNS:kubernetes.default.svc');
  });
});
