// TLS settings of the health server as the Go agent's serving options name them: `--tls-cipher-suites`
// (Go's crypto/tls names, mapped to OpenSSL's) and `--tls-sni-cert-key` (certificate, key and the
// names they serve).

import { getCiphers } from 'node:tls';

/** Go's crypto/tls cipher suite names (TLS 1.0–1.2) as OpenSSL names them. */
export const goCipherSuites: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // Go's older names for the last two.
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/**
 * TLS 1.3's suites. Go accepts their names in the list but always enables all three (TLS 1.3 suites are
 * not configurable in crypto/tls); so does the agent: they are appended to every list.
 */
export const tls13Suites = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/**
 * `--tls-cipher-suites` as Node's `ciphers` option: the OpenSSL names of the given Go names, then TLS
 * 1.3's. Unknown names, and names this OpenSSL does not provide (RC4), are errors: a server that would
 * quietly offer other suites than the operator asked for is worse than one that does not start.
 * Undefined for an empty list (Node's defaults, which are Go's secure defaults' equivalent).
 */
export function cipherList(names: readonly string[]): { ciphers: string | undefined; errors: string[] } {
  if (names.length === 0) return { ciphers: undefined, errors: [] };
  const available = new Set(getCiphers().map((c) => c.toUpperCase()));
  const errors: string[] = [];
  const openssl: string[] = [];
  for (const name of names.map((n) => n.trim())) {
    if (tls13Suites.includes(name)) continue;
    const mapped = goCipherSuites[name];
    if (mapped === undefined) errors.push(`--tls-cipher-suites: unknown cipher suite ${JSON.stringify(name)}`);
    else if (!available.has(mapped)) {
      errors.push(`--tls-cipher-suites: ${name} (${mapped}) is not available in this build of OpenSSL`);
    } else openssl.push(mapped);
  }
  return { ciphers: [...openssl, ...tls13Suites].join(':'), errors };
}

/** One `--tls-sni-cert-key`: a certificate and key, and the server names they serve. */
export interface SniCertKey {
  readonly certFile: string;
  readonly keyFile: string;
  /** Names (a leading `*.` matches one label) given after `:`; empty: the certificate's own names. */
  readonly names: readonly string[];
}

/**
 * Parses `--tls-sni-cert-key` as component-base does: `cert,key` or `cert,key:name1,name2` (names may
 * be wildcards, `*.example.com`).
 */
export function parseSniCertKey(text: string): SniCertKey | { error: string } {
  const colon = text.lastIndexOf(':');
  // A colon inside a path with no names after it is unusual; component-base splits on the last one too.
  const [files, names] = colon === -1 ? [text, ''] : [text.slice(0, colon), text.slice(colon + 1)];
  const parts = files.split(',').map((s) => s.trim());
  const [certFile = '', keyFile = ''] = parts;
  if (parts.length !== 2 || certFile === '' || keyFile === '') {
    return {
      error: `--tls-sni-cert-key ${JSON.stringify(text)}: expected certfile,keyfile or certfile,keyfile:name1,name2`,
    };
  }
  const list = names
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return { certFile, keyFile, names: list };
}

/** Whether a server name matches a certificate name (`*.example.com` matches one label). */
export function serverNameMatches(pattern: string, serverName: string): boolean {
  const p = pattern.toLowerCase();
  const n = serverName.toLowerCase();
  if (!p.startsWith('*.')) return p === n;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot) === p.slice(1);
}
