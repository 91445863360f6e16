// Every Event the agent records, reason and message, against the Go agent's format strings
// (clusternet pkg/utils/deployer.go ApplyDescription / OffloadDescription / ReconcileHelmRelease, and
// the Description and HelmRelease controllers of pkg/controllers/apps). Issue 13 #13.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deployerEvents, type EventText } from '../../../src/deployer/events.ts';

const key = 'clusternet-abcde/web';
const F = 'apps.clusternet.io/finalizer';

/** reason, type, the Go format string, our builder's output for the same arguments. */
const table: [string, EventText['type'], string, EventText, string][] = [
  [
    'FinalizerInjected',
    'Normal',
    'successfully inject finalizer %s to Description %s',
    deployerEvents.finalizerInjected('Description', key),
    `successfully inject finalizer ${F} to Description ${key}`,
  ],
  [
    'FinalizerInjected',
    'Normal',
    'successfully inject finalizer %s to HelmRelease %s',
    deployerEvents.finalizerInjected('HelmRelease', key),
    `successfully inject finalizer ${F} to HelmRelease ${key}`,
  ],
  [
    'FailedInjectingFinalizer',
    'Warning',
    'failed to inject finalizer %s to Description %s: %v',
    deployerEvents.failedInjectingFinalizer('Description', key, 'conflict'),
    `failed to inject finalizer ${F} to Description ${key}: conflict`,
  ],
  [
    'FailedInjectingFinalizer',
    'Warning',
    'failed to inject finalizer %s to HelmRelease %s: %v',
    deployerEvents.failedInjectingFinalizer('HelmRelease', key, 'conflict'),
    `failed to inject finalizer ${F} to HelmRelease ${key}: conflict`,
  ],
  [
    'Synced',
    'Normal',
    'Description synced successfully',
    deployerEvents.synced('Description'),
    'Description synced successfully',
  ],
  [
    'Synced',
    'Normal',
    'HelmRelease synced successfully',
    deployerEvents.synced('HelmRelease'),
    'HelmRelease synced successfully',
  ],
  ['FailedSynced', 'Warning', 'err.Error()', deployerEvents.failedSynced('boom'), 'boom'],
  [
    'FailedMarshalingResource',
    'Warning',
    'failed to unmarshal resource: %v',
    deployerEvents.failedMarshalingResource('manifest 0: not JSON'),
    'failed to unmarshal resource: manifest 0: not JSON',
  ],
  [
    'SuccessfullyDeployed',
    'Normal',
    'Description %s is deployed successfully',
    deployerEvents.successfullyDeployed(key),
    `Description ${key} is deployed successfully`,
  ],
  [
    'UnSuccessfullyDeployed',
    'Warning',
    'failed to deploying Description %s: %s',
    deployerEvents.unSuccessfullyDeployed(key, 'applying v1/ConfigMap x: forbidden'),
    `failed to deploying Description ${key}: applying v1/ConfigMap x: forbidden`,
  ],
  [
    'FailedDeletingDescription',
    'Warning',
    'failed to deleting Description %s: %v',
    deployerEvents.failedDeletingDescription(key, 'timeout'),
    `failed to deleting Description ${key}: timeout`,
  ],
  [
    'ChartLocateFailure',
    'Warning',
    'err.Error()',
    deployerEvents.chartLocateFailure('chart not found'),
    'chart not found',
  ],
];

describe('the Events the deployer records (Go formats)', () => {
  it.each(table)('%s (%s): "%s"', (reason, type, _goFormat, built, message) => {
    expect(built).toEqual({ type, reason, message });
  });

  it('has a row for every builder', () => {
    const reasons = new Set(table.map(([reason]) => reason));
    const built = Object.values(deployerEvents).map(
      (b: (...args: never[]) => EventText) =>
        (b as unknown as (...a: string[]) => EventText)('Description', 'x', 'y').reason,
    );
    expect([...new Set(built)].sort()).toEqual([...reasons].sort());
  });

  it('is the only place in src/ that names an Event type, so every Event goes through a builder', () => {
    const root = fileURLToPath(new URL('../../../src/', import.meta.url));
    const offenders: string[] = [];
    for (const dir of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      if (!dir.endsWith('.ts') || dir === 'deployer/events.ts' || dir.startsWith('kube/')) continue;
      const text = readFileSync(`${root}${dir}`, 'utf8');
      // An Event type given as an argument or a field (a comparison such as `=== 'Warning'` is no Event).
      if (/(type:\s*|[(,]\s*)['"](Normal|Warning)['"]/.test(text)) offenders.push(dir);
    }
    expect(offenders).toEqual([]);
  });
});
