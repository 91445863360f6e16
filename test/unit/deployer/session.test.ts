// The deployer's credentials in use are a generation number in its chart's context; the credentials
// themselves (the dedicated parent token, the app-deployer token) never reach what the inspector and
// the transition log see: every inspection event's event and snapshot context, serialised.

import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { createActor, type InspectionEvent } from 'xstate';
import { createDeployerMachine } from '../../../src/deployer/actors.ts';
import { dedicatedKubeConfig } from '../../../src/parent/kube-config.ts';
import { createRootLogger } from '../../../src/logging/logger.ts';
import { shippedConfig } from '../machines/shipped-config.ts';
import { Writable } from 'node:stream';

const parentToken = 'parent-dedicated-token-0123456789';
const deployerToken = 'app-deployer-token-9876543210';
// Nothing listens there: publishing the Secret fails at once, and the chart retries with backoff.
const nowhere = 'https://127.0.0.1:1';

/** What an inspector sees of an inspection event (errors by their message). */
function seen(e: InspectionEvent): string {
  const view = {
    type: e.type,
    event: 'event' in e ? e.event : undefined,
    context: e.type === '@xstate.snapshot' ? (e.snapshot as { context?: unknown }).context : undefined,
  };
  return JSON.stringify(view, (_k, v: unknown) => (v instanceof Error ? { message: v.message } : v));
}

describe('the deployer session', () => {
  it('is a generation number in context; no token reaches the inspection events', async () => {
    const child = new KubeConfig();
    child.loadFromOptions({
      clusters: [{ name: 'child', server: nowhere, skipTLSVerify: true }],
      users: [{ name: 'agent', token: 'agent-own-token' }],
      contexts: [{ name: 'child', cluster: 'child', user: 'agent' }],
      currentContext: 'child',
    });
    const credentials = { token: parentToken, caPem: undefined };
    const seenEvents: string[] = [];
    const machine = createDeployerMachine({
      config: shippedConfig(),
      child,
      log: createRootLogger(
        2,
        new Writable({
          write(_c, _e, cb) {
            cb();
          },
        }),
      ),
      parent: () =>
        Promise.resolve({ parentUrl: nowhere, credentials, kubeConfig: dedicatedKubeConfig(nowhere, credentials) }),
      appDeployer: () =>
        Promise.resolve({ token: deployerToken, caCrt: '', serviceAccountName: 'sa', serviceAccountUid: 'uid' }),
      random: () => 0,
    });
    const actor = createActor(machine, {
      input: { clusterId: 'id', dedicatedNamespace: 'clusternet-x', syncMode: 'Pull', appPusher: false },
      inspect: (e) => {
        seenEvents.push(seen(e));
      },
    });
    actor.start();
    const deadline = Date.now() + 10_000;
    while (actor.getSnapshot().value !== 'waitingToPublish' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const snapshot = actor.getSnapshot();
    actor.stop();
    expect(snapshot.value).toBe('waitingToPublish');
    expect(snapshot.context.session).toBe(1);
    expect(snapshot.context.lastFailure).toMatch(/child-cluster-deployer/);
    // The inspector saw the load's outcome (the generation) and the publish failure…
    expect(seenEvents.some((s) => s.includes('"output":1'))).toBe(true);
    expect(seenEvents.some((s) => s.includes('"session":1'))).toBe(true);
    // …and never a token.
    for (const s of seenEvents) {
      expect(s).not.toContain(parentToken);
      expect(s).not.toContain(deployerToken);
      expect(s).not.toContain('agent-own-token');
    }
  });
});
