// The PKI of one test cluster, made with openssl: a cluster CA, the apiserver's serving certificate,
// an admin client certificate (group system:masters), a separate front-proxy CA and client certificate
// for the aggregation layer, and the service-account signing key pair.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ClusterPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly frontProxyCaCert: string;
  readonly frontProxyClientCert: string;
  readonly frontProxyClientKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
}

export interface PkiOptions {
  /** Common name of the cluster CA, e.g. `parent-ca`. */
  readonly caName: string;
  /** Extra IP SANs of the serving certificate (127.0.0.1 and the service IP are always in). */
  readonly extraIps?: readonly string[];
  readonly validDays?: number;
}

/** Every DNS name and IP the apiserver serving certificate must cover. */
export function apiserverSans(extraIps: readonly string[] = []): string[] {
  const dns = [
    'localhost',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local',
  ];
  const ips = ['127.0.0.1', '10.0.0.1', ...extraIps];
  return [...dns.map((d) => `DNS:${d}`), ...[...new Set(ips)].map((ip) => `IP:${ip}`)];
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed in ${dir}: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

async function selfSignedCa(dir: string, name: string, cn: string, days: number): Promise<void> {
  await openssl(dir, [
    'req', '-x509', '-new', '-nodes', '-newkey', 'rsa:2048', '-sha256', '-days', String(days),
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]); // prettier-ignore
}

async function signedLeaf(
  dir: string,
  name: string,
  subject: string,
  ca: string,
  days: number,
  extensions: readonly string[],
): Promise<void> {
  await openssl(dir, [
    'req', '-new', '-nodes', '-newkey', 'rsa:2048', '-keyout', `${name}.key`, '-out', `${name}.csr`,
    '-subj', subject,
  ]); // prettier-ignore
  await writeFile(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  await openssl(dir, [
    'x509', '-req', '-sha256', '-days', String(days), '-in', `${name}.csr`, '-CA', `${ca}.crt`,
    '-CAkey', `${ca}.key`, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-out', `${name}.crt`,
    '-extfile', `${name}.ext`,
  ]); // prettier-ignore
  await rm(join(dir, `${name}.csr`));
  await rm(join(dir, `${name}.ext`));
}

/** Creates a complete, fresh PKI for one cluster in `dir`. */
export async function createClusterPki(dir: string, opts: PkiOptions): Promise<ClusterPki> {
  const days = opts.validDays ?? 365;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const leafUsage = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'];
  await selfSignedCa(dir, 'ca', opts.caName, days);
  await selfSignedCa(dir, 'front-proxy-ca', `${opts.caName}-front-proxy`, days);
  await Promise.all([
    signedLeaf(dir, 'apiserver', '/CN=kube-apiserver', 'ca', days, [
      ...leafUsage,
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${apiserverSans(opts.extraIps).join(',')}`,
    ]),
    signedLeaf(dir, 'admin', '/O=system:masters/CN=test-admin', 'ca', days, [
      ...leafUsage,
      'extendedKeyUsage=clientAuth',
    ]),
    signedLeaf(dir, 'front-proxy-client', '/CN=front-proxy-client', 'front-proxy-ca', days, [
      ...leafUsage,
      'extendedKeyUsage=clientAuth',
    ]),
    openssl(dir, ['genrsa', '-out', 'sa.key', '2048']),
  ]);
  await openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    apiserverCert: p('apiserver.crt'),
    apiserverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    frontProxyCaCert: p('front-proxy-ca.crt'),
    frontProxyClientCert: p('front-proxy-client.crt'),
    frontProxyClientKey: p('front-proxy-client.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
}
