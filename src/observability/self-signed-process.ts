// The short-lived process that makes the self-signed serving certificate (self-signed.ts forks it): an
// ECDSA P-256 key (node's WebCrypto) and an X.509 v3 certificate built and signed by @peculiar/x509, not
// by hand: the certificate encoding is left to a library that is kept for exactly that. The library and
// reflect-metadata are loaded here and go away with this process, so the agent never holds them
// (about 19 MiB resident for the agent's whole life otherwise; docs/memory.md, step 5).
//
// In: its argument, a CertificateArgument (JSON). Out: one IPC message, a CertificateReply (the pair, or
// the error the library threw), then the process exits.

// @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { CertificateArgument, CertificateReply, CertificateRequest, SelfSignedPair } from './self-signed.ts';

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A serving certificate for `hosts` (DNS names and IPs), valid from an hour ago for a year. */
async function selfSigned({ commonName, hosts, now }: CertificateRequest): Promise<SelfSignedPair> {
  x509.cryptoProvider.set(webcrypto);
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    // The name as one CN attribute, whatever characters it has (`host@1700000000`).
    name: [{ CN: [commonName] }],
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + 365 * 24 * 3600_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        hosts.map((h) => (isIP(h) === 0 ? { type: 'dns' as const, value: h } : { type: 'ip' as const, value: h })),
      ),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const b64 = pkcs8.toString('base64').replace(/.{1,64}/g, '$&\n');
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`,
  };
}

async function reply(request: CertificateRequest): Promise<CertificateReply> {
  try {
    return { pair: await selfSigned(request) };
  } catch (err) {
    return { error: err instanceof Error ? err : new Error(String(err)) };
  }
}

const send = process.send?.bind(process);
if (send === undefined) throw new Error('self-signed-process.ts runs forked with an IPC channel (self-signed.ts)');
// The request comes as the one argument, not as a message: none can arrive before a listener is set.
const { commonName, hosts, nowMs } = JSON.parse(process.argv[2] ?? '{}') as CertificateArgument;
// Exits once the reply is sent (or could not be): nothing a preload (NODE_OPTIONS=--import) started
// keeps it alive.
const message = await reply({ commonName, hosts, now: new Date(nowMs) });
send(message, undefined, undefined, (err) => process.exit(err ? 1 : 0));
