import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../../src/observability/self-signed.ts';

// The certificate is made in a process forked for it (src/observability/self-signed-process.ts): these
// tests go through that process from source, as the agent does from dist/ (docs/memory.md, step 5).
describe('self-signed serving certificate', () => {
  it('is a valid, self-signed X.509 certificate for the given names and IPs, matching its key', async () => {
    const pair = await selfSignedCertificate('agent@1', ['localhost', '127.0.0.1', '::1', '2001:db8::7']);
    const cert = new X509Certificate(pair.certPem);
    expect(cert.subject).toBe('CN=agent@1');
    expect(cert.issuer).toBe('CN=agent@1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(pair.keyPem))).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('2001:db8::7')).toBe('2001:db8::7');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:7',
    );
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(300 * 24 * 3600_000);
    // As before the library: ECDSA P-256 signed with SHA-256, for serving only.
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(pair.keyPem).toMatch(
      /^-----BEGIN PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/,
    );
    expect(pair.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
  });

  it('is valid from an hour before the given time for a year, with a positive random serial', async () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const [a, b] = await Promise.all([
      selfSignedCertificate('agent@2', ['localhost'], now),
      selfSignedCertificate('agent@2', ['localhost'], now),
    ]);
    const cert = new X509Certificate(a.certPem);
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-03-01T11:00:00.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2027-03-01T12:00:00.000Z');
    expect(cert.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
    expect(new X509Certificate(b.certPem).serialNumber).not.toBe(cert.serialNumber);
    expect(b.keyPem).not.toBe(a.keyPem);
  });

  it('is made in another process: the certificate library is not loaded in this one', async () => {
    await selfSignedCertificate('agent@3', ['localhost']);
    // reflect-metadata, which @peculiar/x509 needs, defines Reflect.getMetadata when it loads.
    expect(Reflect).not.toHaveProperty('getMetadata');
  });

  it('fails with what the certificate process said when it cannot make one', async () => {
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = '--require=/nonexistent/preload.cjs';
    try {
      await expect(selfSignedCertificate('agent@4', ['localhost'])).rejects.toThrow(
        /self-signed certificate process exited with code 1 without a certificate: [\s\S]*Cannot find module '\/nonexistent\/preload\.cjs'/,
      );
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
  });
});
