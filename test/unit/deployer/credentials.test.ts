// The app-deployer's client configuration for the child (spec §7.1.5): its token and CA, and the proxy
// the agent's own child configuration uses.

import { describe, expect, it } from 'vitest';
import { appDeployerKubeConfig, type AppDeployer } from '../../../src/deployer/credentials.ts';

const deployer: AppDeployer = {
  token: 'deployer-token',
  caCrt: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  serviceAccountName: 'clusternet-app-deployer',
  serviceAccountUid: 'uid-1',
};

describe('appDeployerKubeConfig', () => {
  it('authenticates with the deployer token and verifies TLS against its ca.crt', () => {
    const kc = appDeployerKubeConfig('https://10.96.0.1:443', deployer);
    const cluster = kc.getCurrentCluster();
    expect(cluster?.server).toBe('https://10.96.0.1:443');
    expect(cluster?.skipTLSVerify).toBe(false);
    expect(Buffer.from(cluster?.caData ?? '', 'base64').toString()).toBe(deployer.caCrt);
    expect(cluster?.proxyUrl).toBeUndefined();
    expect(kc.getCurrentUser()?.token).toBe('deployer-token');
  });

  it('goes through the proxy the agent uses for the child', () => {
    const kc = appDeployerKubeConfig('https://10.96.0.1:443', deployer, 'http://proxy.example:3128/');
    expect(kc.getCurrentCluster()?.proxyUrl).toBe('http://proxy.example:3128/');
    expect(appDeployerKubeConfig('https://10.96.0.1:443', deployer, '').getCurrentCluster()?.proxyUrl).toBeUndefined();
  });
});
