// The chart's operating values, rendered by the real helm: extraArgs that change what the chart uses
// (secure-port, insecure-serving, the lease namespace) are followed or refused, the metrics Service and
// Prometheus Operator monitors, extra volumes, topology spread, image digest and registry precedence.
// (The install notes on what uninstall leaves are checked by the real install, test/integration/chart.)

import { describe, expect, it, vi } from 'vitest';
import { chartDir, ciValues, find, get, helm, render, setJson } from '../../chart/helm.ts';
import { agentContainer, podSpec } from '../../chart/shapes.ts';

// helm runs take seconds when the machine is busy.
vi.setConfig({ testTimeout: 60_000 });

async function renderError(values: Record<string, unknown>, namespace = 'clusternet-system'): Promise<string> {
  const r = await helm(['template', 'agent', chartDir, '-n', namespace, '-f', ciValues, ...setJson(values)]);
  expect(r.code).not.toBe(0);
  return r.stderr;
}

interface Endpoint {
  port: string;
  path: string;
  scheme: string;
  interval?: string;
  tlsConfig?: { insecureSkipVerify: boolean };
}

describe('extraArgs that change what the chart uses', () => {
  it('extraArgs.secure-port moves the container port and the probes', async () => {
    const c = agentContainer(get(await render({ 'extraArgs.secure-port': 9443 }), 'Deployment'));
    expect(c.args).toContain('--secure-port=9443');
    expect(c.ports).toEqual([{ name: 'https', containerPort: 9443, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/livez', port: 'https', scheme: 'HTTPS' });
  });

  it('extraArgs.secure-port=0 drops the port and the probes, as securePort=0 does', async () => {
    const c = agentContainer(get(await render({ 'extraArgs.secure-port': 0 }), 'Deployment'));
    expect(c.ports).toBeUndefined();
    expect(c.livenessProbe).toBeUndefined();
  });

  it.each([true, 'true', 't'])('extraArgs.insecure-serving=%s makes the probes plain HTTP', async (value) => {
    const c = agentContainer(get(await render({ 'extraArgs.insecure-serving': value }), 'Deployment'));
    expect(c.ports?.[0]).toMatchObject({ name: 'http', containerPort: 10650 });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/livez', port: 'http', scheme: 'HTTP' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTP' });
  });

  it('extraArgs.insecure-serving=false keeps HTTPS', async () => {
    const c = agentContainer(get(await render({ 'extraArgs.insecure-serving': false }), 'Deployment'));
    expect(c.livenessProbe?.httpGet.scheme).toBe('HTTPS');
  });

  it('refuses a lease namespace other than the release namespace, naming both', async () => {
    const msg = await renderError({ 'extraArgs.leader-elect-resource-namespace': 'elsewhere' });
    expect(msg).toContain('extraArgs.leader-elect-resource-namespace=elsewhere');
    expect(msg).toContain('release namespace clusternet-system');
  });

  it('accepts the release namespace given again', async () => {
    const ms = await render({ 'extraArgs.leader-elect-resource-namespace': 'clusternet-system' });
    expect(agentContainer(get(ms, 'Deployment')).args).toContain('--leader-elect-resource-namespace=clusternet-system');
  });
});

describe('metrics', () => {
  it('renders nothing for metrics by default', async () => {
    const ms = await render();
    expect(ms.filter((m) => m.kind === 'Service' || m.kind === 'ServiceMonitor' || m.kind === 'PodMonitor')).toEqual(
      [],
    );
  });

  it('a Service in front of every replica, selecting the Deployment pods', async () => {
    const ms = await render({ 'metrics.service.enabled': true, 'metrics.service.annotations': { a: 'b' } });
    const svc = get(ms, 'Service', 'agent-clusternet-agent-metrics');
    const s = (
      svc as unknown as {
        spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] };
      }
    ).spec;
    const podLabels = (
      get(ms, 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }
    ).spec.template.metadata.labels;
    expect(podLabels).toMatchObject(s.selector);
    expect(s.ports).toEqual([{ name: 'https', port: 10650, targetPort: 'https', protocol: 'TCP' }]);
    expect(svc.metadata.annotations).toEqual({ a: 'b' });
  });

  it('a ServiceMonitor scraping /metrics over HTTPS (self-signed by default), with the Service it selects', async () => {
    const ms = await render({
      'metrics.serviceMonitor.enabled': true,
      'metrics.serviceMonitor.labels': { release: 'prom' },
      'metrics.interval': '30s',
    });
    const sm = get(ms, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels).toMatchObject({ release: 'prom' });
    const s = (sm as unknown as { spec: { endpoints: Endpoint[]; selector: { matchLabels: Record<string, string> } } })
      .spec;
    expect(s.endpoints).toEqual([
      { port: 'https', path: '/metrics', scheme: 'https', interval: '30s', tlsConfig: { insecureSkipVerify: true } },
    ]);
    expect(get(ms, 'Service').metadata.labels).toMatchObject(s.selector.matchLabels);
  });

  it('a PodMonitor follows insecure-serving to plain HTTP', async () => {
    const ms = await render({ 'metrics.podMonitor.enabled': true, 'extraArgs.insecure-serving': true });
    const s = (get(ms, 'PodMonitor') as unknown as { spec: { podMetricsEndpoints: Endpoint[] } }).spec;
    expect(s.podMetricsEndpoints).toEqual([{ port: 'http', path: '/metrics', scheme: 'http' }]);
    expect(find(ms, 'Service')).toBeUndefined();
  });

  it('refuses monitors when the metrics server is off', async () => {
    expect(await renderError({ 'metrics.serviceMonitor.enabled': true, securePort: 0 })).toContain(
      "needs the agent's metrics server",
    );
  });
});

describe('pod values', () => {
  it('adds extra volumes and mounts after the chart own, and topology spread constraints (templated)', async () => {
    const d = get(
      await render({
        extraVolumes: [{ name: 'ca', configMap: { name: 'corp-ca' } }],
        extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/corp-ca', readOnly: true }],
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: 'topology.kubernetes.io/zone',
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchLabels: { 'app.kubernetes.io/instance': '{{ .Release.Name }}' } },
          },
        ],
      }),
      'Deployment',
    );
    const pod = podSpec(d) as unknown as {
      volumes: { name: string }[];
      topologySpreadConstraints: { labelSelector: { matchLabels: Record<string, string> } }[];
    };
    expect(pod.volumes.map((v) => v.name)).toEqual(['tmp', 'helm', 'ca']);
    const mounts = (agentContainer(d) as unknown as { volumeMounts: { name: string; mountPath: string }[] })
      .volumeMounts;
    expect(mounts.at(-1)).toEqual({ name: 'ca', mountPath: '/etc/corp-ca', readOnly: true });
    expect(pod.topologySpreadConstraints[0]?.labelSelector.matchLabels).toEqual({
      'app.kubernetes.io/instance': 'agent',
    });
  });

  it('refuses a volume mount without a mount path', async () => {
    expect(await renderError({ extraVolumeMounts: [{ name: 'ca' }] })).toContain('extraVolumeMounts');
  });

  it('global.imageRegistry overrides image.registry; a digest replaces the tag', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const c = agentContainer(
      get(
        await render({
          'global.imageRegistry': 'mirror.example',
          'image.registry': 'registry.example',
          'image.digest': digest,
        }),
        'Deployment',
      ),
    );
    expect(c.image).toBe(`mirror.example/clusternet-agent-ts@${digest}`);
    expect(await renderError({ 'image.digest': 'latest' })).toContain('/image/digest');
  });
});
