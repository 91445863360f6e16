// Every Event the deployer records in the parent (spec §7.3, §7.4), reason and message as the Go
// agent writes them (clusternet pkg/utils/deployer.go ApplyDescription / OffloadDescription, the
// Description and HelmRelease controllers of pkg/controllers/apps, and ReconcileHelmRelease for
// ChartLocateFailure). `<key>` is klog.KObj: `<namespace>/<name>`. One builder per reason, so the
// table test (test/unit/deployer/events.test.ts) covers every Event the agent writes.

import { finalizer } from '../../machines/deployer/decisions.ts';
import type { EventType } from '../kube/event-correlator.ts';

export interface EventText {
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
}

/** The kinds the deployer records Events about. */
export type EventKind = 'Description' | 'HelmRelease';

export const deployerEvents = {
  finalizerInjected: (kind: EventKind, key: string): EventText => ({
    type: 'Normal',
    reason: 'FinalizerInjected',
    message: `successfully inject finalizer ${finalizer} to ${kind} ${key}`,
  }),
  failedInjectingFinalizer: (kind: EventKind, key: string, err: string): EventText => ({
    type: 'Warning',
    reason: 'FailedInjectingFinalizer',
    message: `failed to inject finalizer ${finalizer} to ${kind} ${key}: ${err}`,
  }),
  synced: (kind: EventKind): EventText => ({
    type: 'Normal',
    reason: 'Synced',
    message: `${kind} synced successfully`,
  }),
  failedSynced: (err: string): EventText => ({ type: 'Warning', reason: 'FailedSynced', message: err }),
  failedMarshalingResource: (err: string): EventText => ({
    type: 'Warning',
    reason: 'FailedMarshalingResource',
    message: `failed to unmarshal resource: ${err}`,
  }),
  /** Go's text; spec §7.3 words it "successfully deployed Description <key>", which no Go release writes. */
  successfullyDeployed: (key: string): EventText => ({
    type: 'Normal',
    reason: 'SuccessfullyDeployed',
    message: `Description ${key} is deployed successfully`,
  }),
  unSuccessfullyDeployed: (key: string, reason: string): EventText => ({
    type: 'Warning',
    reason: 'UnSuccessfullyDeployed',
    message: `failed to deploying Description ${key}: ${reason}`,
  }),
  failedDeletingDescription: (key: string, err: string): EventText => ({
    type: 'Warning',
    reason: 'FailedDeletingDescription',
    message: `failed to deleting Description ${key}: ${err}`,
  }),
  chartLocateFailure: (err: string): EventText => ({ type: 'Warning', reason: 'ChartLocateFailure', message: err }),
} as const;
