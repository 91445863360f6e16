// The effects of leader election: the Lease's reads, writes and release (lease-actors.ts) and its
// changes as a stream (lease-changes.ts), provided to the leadership statechart.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { fromEventObservable } from 'xstate';
import { leadershipMachine, termGuards } from '../../machines/leadership/machine.ts';
import { steadyNow, wallNow, type Clock } from '../clock.ts';
import type { Logger } from '../logging/logger.ts';
import { leaseActors } from './lease-actors.ts';
import { leaseChanges } from './lease-changes.ts';

/** `spec.holderIdentity` as the Go agent makes it: `<hostname>_<random UUID>`, new at every start. */
export function electionIdentity(host = hostname()): string {
  return `${host}_${randomUUID()}`;
}

export interface LeadershipDeps {
  readonly child: KubeConfig;
  readonly namespace: string;
  readonly leaseName: string;
  readonly log: Logger;
  /** Steady time: expiry and the renew deadline (default steadyNow). */
  readonly now?: Clock;
  /** Wall time: acquireTime/renewTime written in the Lease (default Date.now). */
  readonly wallNow?: Clock;
}

/** The leadership statechart with the real effects provided. */
export function createLeadershipMachine(deps: LeadershipDeps): typeof leadershipMachine {
  const { child, namespace, leaseName: name, log } = deps;
  const now = deps.now ?? steadyNow;
  return leadershipMachine.provide({
    actors: {
      ...leaseActors({ child, namespace, name, log, now, wall: deps.wallNow ?? wallNow }),
      watchLease: fromEventObservable(() => leaseChanges(child, namespace, name, log)),
    },
    guards: termGuards(now),
  });
}
