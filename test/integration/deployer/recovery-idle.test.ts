// Recovery on a quiet cluster (issue 13 #6): client-node's Watch ended every watch after 30 s
// without data and the agent took that for a failure, so the Recovery watch of an applied kind was
// gone for good half a minute after the last apply, and every other watch went through backingOff
// every 30 s. Against the real parent and child: apply a Description in Pull mode, leave everything
// idle for 2 minutes, then change an applied object in the child; it must be rolled back, and no
// watch of the deployer may have backed off meanwhile.

import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import type { Actor } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import { stateName } from '../../../src/logging/transitions.ts';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { parentDescriptions, startDeployer } from '../helpers/deployer-harness.ts';

const env = testEnv();
const appNs = `idle-${randomBytes(3).toString('hex')}`;
const idleMs = 120_000;
let approver: TestApprover;
let actor: Actor<typeof deployerMachine> | undefined;
const childCore = () => env.adminClient('child', CoreV1Api);
const readConfigMap = (): Promise<V1ConfigMap> =>
  childCore().readNamespacedConfigMap({ name: 'quiet', namespace: appNs });

beforeAll(async () => {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  await childCore().createNamespace({ body: { metadata: { name: appNs } } });
}, 120_000);

afterAll(async () => {
  actor?.stop();
  await approver.stop();
  await childCore()
    .deleteNamespace({ name: appNs })
    .catch(() => undefined);
});

describe('Recovery on an idle cluster', () => {
  it(
    'rolls back a change made 2 minutes after the apply, with no watch backing off meanwhile',
    async () => {
      const started = await startDeployer(env, 'recovery-idle', { syncMode: 'Pull', gates: 'Recovery=true' });
      actor = started.actor;
      const { cluster, logPath } = started;
      const states: string[] = [];
      actor.subscribe((s) => {
        const name = stateName(s.value);
        if (states.at(-1) !== name) states.push(name);
      });
      await parentDescriptions(env).create(cluster.dedicatedNamespace, 'quiet', [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'quiet', namespace: appNs },
          data: { greeting: 'hello' },
        },
      ]);
      await eventually(`the ConfigMap applied (log ${logPath})`, async () =>
        (await readConfigMap()).data?.greeting === 'hello' ? true : undefined,
      );
      const appliedAt = Date.now();
      // Nothing happens in either cluster's watched collections for 2 minutes. The requests this
      // process (the deployer alone; the test itself sends none meanwhile) makes are counted by server.
      const counts: Record<string, number> = {};
      // The test approver polls the registration requests from this process too: not counted.
      const count = (origin: string, path: string): void => {
        if (path.includes('clusterregistrationrequests')) return;
        counts[origin] = (counts[origin] ?? 0) + 1;
      };
      const onUndici = (m: unknown): void => {
        const r = (m as { request: { origin: string; path: string } }).request;
        count(r.origin, r.path);
      };
      const onHttp = (m: unknown): void => {
        const r = (m as { request: { protocol: string; host: string; path: string } }).request;
        count(`${r.protocol}//${r.host}`, r.path);
      };
      subscribe('undici:request:create', onUndici);
      subscribe('http.client.request.start', onHttp);
      await sleep(idleMs);
      unsubscribe('undici:request:create', onUndici);
      unsubscribe('http.client.request.start', onHttp);
      const perMinute = Object.fromEntries(
        Object.entries(counts).map(([origin, n]) => [
          origin === env.server('parent') ? 'parent' : origin === env.server('child') ? 'child' : origin,
          (n * 60_000) / idleMs,
        ]),
      );
      console.log(`idle deployer requests per minute: ${JSON.stringify(perMinute)}`);
      const cm = await readConfigMap();
      cm.data = { greeting: 'tampered' };
      await childCore().replaceNamespacedConfigMap({ name: 'quiet', namespace: appNs, body: cm });
      const changedAfterS = Math.round((Date.now() - appliedAt) / 1000);
      await eventually(
        `the ConfigMap rolled back, changed ${String(changedAfterS)} s after the apply (log ${logPath})`,
        async () => ((await readConfigMap()).data?.greeting === 'hello' ? true : undefined),
        { timeoutMs: 30_000 },
      );
      expect(changedAfterS).toBeGreaterThanOrEqual(idleMs / 1000);
      expect(states.filter((s) => s.includes('backingOff'))).toEqual([]);
      expect(states.at(-1)).toBe('deploying.watch.watching,helm.watching,drift,work');
    },
    idleMs + 150_000,
  );
});
