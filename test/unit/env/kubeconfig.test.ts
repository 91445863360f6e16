import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderKubeconfig, writeKubeconfig } from '../../env/kubeconfig.ts';
import { createClusterPki, type ClusterPki } from '../../env/pki.ts';

describe('kubeconfig files', () => {
  let dir: string;
  let pki: ClusterPki;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
    pki = await createClusterPki(join(dir, 'pki'), { caName: 'kc-ca' });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('embed the CA and client certificate so client-node can load them from anywhere', async () => {
    const path = join(dir, 'admin.kubeconfig');
    await writeKubeconfig(path, {
      name: 'child-admin',
      server: 'https://127.0.0.1:6443',
      caFile: pki.caCert,
      user: { kind: 'certificate', certFile: pki.adminCert, keyFile: pki.adminKey },
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    expect(kc.getCurrentContext()).toBe('child-admin');
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(Buffer.from(kc.getCurrentCluster()?.caData ?? '', 'base64').toString()).toBe(
      readFileSync(pki.caCert, 'utf8'),
    );
    expect(Buffer.from(kc.getCurrentUser()?.certData ?? '', 'base64').toString()).toBe(
      readFileSync(pki.adminCert, 'utf8'),
    );
    expect(Buffer.from(kc.getCurrentUser()?.keyData ?? '', 'base64').toString()).toBe(
      readFileSync(pki.adminKey, 'utf8'),
    );
  });

  it('carry a bearer token for token users', () => {
    const cfg = renderKubeconfig({
      name: 'bootstrap',
      server: 'https://127.0.0.1:1',
      caFile: pki.caCert,
      user: { kind: 'token', token: 'abcdef.0123456789abcdef' },
    });
    const kc = new KubeConfig();
    kc.loadFromString(JSON.stringify(cfg));
    expect(kc.getCurrentUser()?.token).toBe('abcdef.0123456789abcdef');
    expect(kc.getCurrentUser()?.certData).toBeUndefined();
  });
});
