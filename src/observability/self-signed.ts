// A self-signed serving certificate made in memory, as the Go agent does when given neither
// --tls-cert-file nor --cert-dir (spec §9.1): an ECDSA P-256 key and an X.509 v3 certificate for the
// given names, valid from an hour ago for a year, built by @peculiar/x509 in a short-lived Node process
// forked for it (self-signed-process.ts). The library stays out of the agent's process: loaded in the
// agent it stayed resident for its whole life, and a worker thread's isolate left more behind than the
// library itself (docs/memory.md, step 5).

import { fork } from 'node:child_process';
import { getCompileCacheDir } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SelfSignedPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What the certificate is made for. */
export interface CertificateRequest {
  readonly commonName: string;
  readonly hosts: readonly string[];
  readonly now: Date;
}

/** The same, as the certificate process's argument (JSON). */
export interface CertificateArgument {
  readonly commonName: string;
  readonly hosts: readonly string[];
  readonly nowMs: number;
}

/** What it answers over IPC: the pair, or the error the library threw (an Error survives the advanced serialization). */
export type CertificateReply = { readonly pair: SelfSignedPair } | { readonly error: Error };

// The process's entry beside this module, with this module's extension: `.ts` from source (node strips
// the types; also under vitest), `.js` in the compiled build (dist/, the image).
const entry = fileURLToPath(
  new URL(`./self-signed-process${extname(new URL(import.meta.url).pathname)}`, import.meta.url),
);

/** A serving certificate for `hosts` (DNS names and IPs), valid from an hour ago for a year. */
export function selfSignedCertificate(
  commonName: string,
  hosts: readonly string[],
  now = new Date(),
): Promise<SelfSignedPair> {
  const argument: CertificateArgument = { commonName, hosts, nowMs: now.getTime() };
  // The agent's compile cache (src/main.ts) serves the library's modules across restarts here too.
  const cache = getCompileCacheDir();
  return new Promise((resolve, reject) => {
    const child = fork(entry, [JSON.stringify(argument)], {
      // Not the agent's own node flags (an inspector port would clash); NODE_OPTIONS still applies.
      execArgv: [],
      env: cache === undefined ? process.env : { ...process.env, NODE_COMPILE_CACHE: cache },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let answer: CertificateReply | undefined;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.once('message', (m: CertificateReply) => (answer = m));
    child.once('error', reject); // could not be started; a later settle is ignored
    child.once('close', (code, signal) => {
      if (answer !== undefined && 'pair' in answer) resolve(answer.pair);
      else if (answer !== undefined) reject(answer.error);
      else {
        const how = signal === null ? `exited with code ${String(code)}` : `was killed by ${signal}`;
        reject(new Error(`the self-signed certificate process ${how} without a certificate: ${stderr.trim()}`));
      }
    });
  });
}
