import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clusternetCrdDir, readClusternetCrds } from '../../env/fixtures.ts';

const sharedCrds = fileURLToPath(new URL('../../../../shared/spec/crds', import.meta.url));

describe('vendored Clusternet CRDs', () => {
  it('are the five CRDs the agent deals with, all v1 and served', async () => {
    const crds = await readClusternetCrds();
    expect(crds.map((c) => c.metadata?.name).sort()).toEqual([
      'clusterregistrationrequests.clusters.clusternet.io',
      'descriptions.apps.clusternet.io',
      'helmcharts.apps.clusternet.io',
      'helmreleases.apps.clusternet.io',
      'managedclusters.clusters.clusternet.io',
    ]);
    for (const crd of crds) {
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.spec.versions.some((v) => v.served && v.storage)).toBe(true);
    }
  });

  // The copies in test/fixtures exist so a clone works on its own; they must not drift from the spec's.
  // Skipped only where the project workspace's shared/ folder is not beside the clone.
  it.runIf(existsSync(sharedCrds))(
    'are byte-identical to the spec copies in ../shared/spec/crds (skipped without ../shared)',
    () => {
      const yamls = readdirSync(sharedCrds)
        .filter((f) => f.endsWith('.yaml'))
        .sort();
      expect(
        readdirSync(clusternetCrdDir)
          .filter((f) => f.endsWith('.yaml'))
          .sort(),
      ).toEqual(yamls);
      for (const f of yamls) {
        expect(readFileSync(join(clusternetCrdDir, f), 'utf8'), f).toBe(readFileSync(join(sharedCrds, f), 'utf8'));
      }
    },
  );
});
