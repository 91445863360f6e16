// values.schema.json, values.yaml and the chart README agree with each other and with the agent.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import packageJson from '../../../package.json' with { type: 'json' };
import { extraArgsSchema, valuesSchemaPath } from '../../chart/extra-args-schema.ts';
import { chartDir } from '../../chart/helm.ts';

const schema = JSON.parse(readFileSync(valuesSchemaPath, 'utf8')) as {
  properties: Record<string, { properties?: Record<string, unknown> }>;
};
const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
const readme = readFileSync(join(chartDir, 'README.md'), 'utf8');
const chartYaml = readFileSync(join(chartDir, 'Chart.yaml'), 'utf8');

/** The `## @param <name>` annotations of values.yaml. */
const params = [...valuesText.matchAll(/^## @param (\S+)/gm)].map((m) => m[1] ?? '');

/** The parameters of Clusternet's chart (both eras) that must keep their names. */
const goChartParams = [
  'kubeVersion',
  'nameOverride',
  'fullnameOverride',
  'commonLabels',
  'commonAnnotations',
  'parentURL',
  'registrationToken',
  'replicaCount',
  'serviceAccount.name',
  'image.registry',
  'image.repository',
  'image.tag',
  'image.pullPolicy',
  'image.pullSecrets',
  'extraArgs',
  'resources.limits',
  'resources.requests',
  'nodeSelector',
  'priorityClassName',
  'tolerations',
  'podAffinityPreset',
  'podAntiAffinityPreset',
  'nodeAffinityPreset.type',
  'nodeAffinityPreset.key',
  'nodeAffinityPreset.values',
  'affinity',
  'leaderElect',
  'featureGates',
  'kubeAPI.burst',
  'kubeAPI.qps',
  'hostNetwork',
];

describe('chart metadata', () => {
  it("extraArgs' schema is the agent's flag table (regenerate: node test/chart/extra-args-schema.ts)", () => {
    expect(schema.properties.extraArgs).toEqual(extraArgsSchema());
  });

  it("keeps every parameter of Clusternet's chart, and documents every parameter in values.yaml and the README", () => {
    for (const p of goChartParams) expect(params).toContain(p);
    for (const p of params) {
      const [top = '', sub] = p.split('.');
      expect(Object.keys(schema.properties), p).toContain(top);
      if (sub !== undefined) expect(Object.keys(schema.properties[top]?.properties ?? {}), p).toContain(sub);
      expect(readme, `README documents ${p}`).toContain(`| \`${p}\``);
    }
    for (const top of Object.keys(schema.properties)) {
      expect(
        params.some((p) => p === top || p.startsWith(`${top}.`)),
        `values.yaml documents ${top}`,
      ).toBe(true);
    }
  });

  it('the image tag and appVersion follow package.json', () => {
    expect(chartYaml).toMatch(new RegExp(`^appVersion: v${packageJson.version.replaceAll('.', '\\.')}$`, 'm'));
    expect(valuesText).toMatch(new RegExp(`^  tag: v${packageJson.version.replaceAll('.', '\\.')}$`, 'm'));
  });
});
