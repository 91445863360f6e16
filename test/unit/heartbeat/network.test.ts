import { describe, expect, it } from 'vitest';
import { discoverCidrs, flagValue, type PodCommandLine } from '../../../src/heartbeat/network.ts';

describe('flagValue', () => {
  it.each([
    [['kube-controller-manager', '--cluster-cidr=10.244.0.0/16'], '10.244.0.0/16'],
    [['/bin/sh', '-c', 'exec kube-proxy --v=2 --cluster-cidr=10.42.0.0/16 --foo'], '10.42.0.0/16'],
    [['--cluster-cidr'], undefined],
    [['--cluster-cidr='], undefined],
    [['--other=1'], undefined],
  ])('%j → %s', (args, expected) => {
    expect(flagValue(args, '--cluster-cidr')).toBe(expected);
  });
});

describe('discoverCidrs (latest rules, §4.2)', () => {
  const pod = (labels: Record<string, string>, ...args: string[]): PodCommandLine => ({ labels, args });
  const kcm = pod(
    { component: 'kube-controller-manager' },
    '--cluster-cidr=10.244.0.0/16',
    '--service-cluster-ip-range=10.96.0.0/12',
  );
  const apiserver = pod({ component: 'kube-apiserver' }, '--service-cluster-ip-range=10.97.0.0/16');
  const proxy = pod({ 'k8s-app': 'kube-proxy' }, '--cluster-cidr=10.45.0.0/16');
  const appKcm = pod({ 'app.kubernetes.io/component': 'kube-controller-manager' }, '--cluster-cidr=10.46.0.0/16');

  it.each([
    [
      'kubeadm control plane',
      [kcm, apiserver, proxy],
      {},
      { clusterCidr: '10.244.0.0/16', serviceCidr: '10.97.0.0/16' },
    ],
    [
      'service range from the controller manager when no apiserver pod',
      [kcm],
      {},
      { clusterCidr: '10.244.0.0/16', serviceCidr: '10.96.0.0/12' },
    ],
    [
      'app.kubernetes.io labels before kube-proxy',
      [proxy, appKcm],
      {},
      { clusterCidr: '10.46.0.0/16', serviceCidr: undefined },
    ],
    ['kube-proxy as the last resort', [proxy], {}, { clusterCidr: '10.45.0.0/16', serviceCidr: undefined }],
    [
      'the environment as fallback (managed control planes)',
      [],
      { clusterCidr: '10.1.0.0/16', serviceCidr: '10.2.0.0/16' },
      { clusterCidr: '10.1.0.0/16', serviceCidr: '10.2.0.0/16' },
    ],
    [
      'pods win over the environment',
      [kcm],
      { clusterCidr: '10.1.0.0/16' },
      { clusterCidr: '10.244.0.0/16', serviceCidr: '10.96.0.0/12' },
    ],
  ])('%s', (_, pods, env, expected) => {
    expect(discoverCidrs(pods, env)).toEqual(expected);
  });
});
