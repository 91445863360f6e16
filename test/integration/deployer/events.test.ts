// Events in the parent about Descriptions (spec §7.1.3, §7.3), written by the real deployer actors with
// the dedicated credentials, and the child rate limit (--kube-api-qps) spacing real requests.

import { randomBytes } from 'node:crypto';
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { createActor, type Actor } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Description, KubeObject } from '../../../machines/deployer/decisions.ts';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import { createDeployerMachine } from '../../../src/deployer/actors.ts';
import { ChildObjects } from '../../../src/deployer/child-objects.ts';
import { childRequestLimiter } from '../../../src/kube/request-limiter.ts';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import {
  agentConfig,
  eventsAbout as eventsAboutIn,
  fileLogger,
  installAppDeployer,
  parentDescriptions,
  registerCluster,
  type RegisteredCluster,
} from '../helpers/deployer-harness.ts';

const env = testEnv();
const appNs = `events-${randomBytes(3).toString('hex')}`;
const childCore = () => env.adminClient('child', CoreV1Api);
let approver: TestApprover;
let actor: Actor<typeof deployerMachine> | undefined;
let cluster: RegisteredCluster;
let logPath = '';

const configMap = (name: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: appNs },
  data,
});

const descriptions = parentDescriptions(env);
const putDescription = (name: string, objects: readonly (KubeObject | string)[]): Promise<void> =>
  descriptions.put(cluster.dedicatedNamespace, name, objects);
const readDescription = (name: string): Promise<Description> => descriptions.read(cluster.dedicatedNamespace, name);

/** The Events in the dedicated namespace about one Description. */
const eventsAbout = (name: string): Promise<CoreV1Event[]> => eventsAboutIn(env, cluster.dedicatedNamespace, name);

const eventWith = (name: string, reason: string, ok: (e: CoreV1Event) => boolean = () => true) =>
  eventually(`an Event ${reason} about ${name} (log ${logPath})`, async () =>
    (await eventsAbout(name)).find((e) => e.reason === reason && ok(e)),
  );

beforeAll(async () => {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  await childCore().createNamespace({ body: { metadata: { name: appNs } } });
  cluster = await registerCluster(env, 'Pull');
  const systemNamespace = `cnet-${randomBytes(3).toString('hex')}`;
  await installAppDeployer(env.adminKubeConfig('child'), systemNamespace);
  const config = agentConfig(env, { systemNamespace, syncMode: 'Pull', gates: 'Recovery=false' });
  const file = fileLogger('events');
  logPath = file.path;
  actor = createActor(
    createDeployerMachine({
      config,
      child: env.adminKubeConfig('child'),
      log: file.log,
      parent: () => Promise.resolve(cluster.parent),
    }),
    {
      input: {
        clusterId: cluster.clusterId,
        dedicatedNamespace: cluster.dedicatedNamespace,
        syncMode: 'Pull',
        appPusher: false,
      },
    },
  );
  actor.start();
}, 120_000);

afterAll(async () => {
  actor?.stop();
  await approver.stop();
  await childCore()
    .deleteNamespace({ name: appNs })
    .catch(() => undefined);
});

describe('Events about Descriptions in the parent', () => {
  it('records FinalizerInjected, SuccessfullyDeployed and Synced as the Go agent does', async () => {
    await putDescription('ok-generic', [configMap('ok-config', { v: '1' })]);
    const ns = cluster.dedicatedNamespace;
    const deployed = await eventWith('ok-generic', 'SuccessfullyDeployed');
    const d = await readDescription('ok-generic');
    expect(deployed.type).toBe('Normal');
    expect(deployed.message).toBe(`Description ${ns}/ok-generic is deployed successfully`);
    expect(deployed.source?.component).toBe('clusternet-agent');
    expect(deployed.reportingComponent).toBe('clusternet-agent');
    expect(deployed.count).toBe(1);
    expect(deployed.metadata.name).toMatch(/^ok-generic\.[0-9a-f]+$/);
    expect(deployed.involvedObject).toMatchObject({
      apiVersion: 'apps.clusternet.io/v1alpha1',
      kind: 'Description',
      namespace: ns,
      name: 'ok-generic',
      uid: d.metadata.uid,
    });
    const synced = await eventWith('ok-generic', 'Synced');
    expect(synced.message).toBe('Description synced successfully');
    const injected = await eventWith('ok-generic', 'FinalizerInjected');
    expect(injected.message).toBe(
      `successfully inject finalizer apps.clusternet.io/finalizer to Description ${ns}/ok-generic`,
    );
  });

  it('counts a repeated event up on the same Event instead of creating another', async () => {
    const before = await eventWith('ok-generic', 'SuccessfullyDeployed');
    await putDescription('ok-generic', [configMap('ok-config', { v: '2' })]);
    const after = await eventWith('ok-generic', 'SuccessfullyDeployed', (e) => e.count === 2);
    expect(after.metadata.name).toBe(before.metadata.name);
    expect(after.firstTimestamp).toEqual(before.firstTimestamp);
    const all = await eventsAbout('ok-generic');
    expect(all.filter((e) => e.reason === 'SuccessfullyDeployed')).toHaveLength(1);
    await eventWith('ok-generic', 'Synced', (e) => e.count === 2);
  });

  it('reports a malformed manifest with Warning events', async () => {
    await putDescription('bad-generic', ['{"apiVersion": "v1", ', configMap('bad-sibling', { ok: 'yes' })]);
    const ns = cluster.dedicatedNamespace;
    const marshal = await eventWith('bad-generic', 'FailedMarshalingResource');
    expect(marshal.type).toBe('Warning');
    expect(marshal.message).toMatch(/^failed to unmarshal resource: /);
    const failed = await eventWith('bad-generic', 'UnSuccessfullyDeployed');
    expect(failed.type).toBe('Warning');
    expect(failed.message).toMatch(new RegExp(`^failed to deploying Description ${ns}/bad-generic: manifest 0: `));
    const syncFailed = await eventWith('bad-generic', 'FailedSynced');
    expect(syncFailed.type).toBe('Warning');
    expect((await eventsAbout('bad-generic')).some((e) => e.reason === 'SuccessfullyDeployed')).toBe(false);
  });
});

describe('--kube-api-qps against the real child', () => {
  it('spaces the requests of a burst of applies at 1/qps', async () => {
    // 4 QPS, burst 1: discovery plus 5 applies, all at once, take at least 5 × 250 ms.
    const objects = new ChildObjects(env.adminKubeConfig('child'), childRequestLimiter(4, 1));
    const started = performance.now();
    const doneAt = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        await objects.apply(configMap(`qps-${String(i)}`, { i: String(i) }));
        return performance.now() - started;
      }),
    );
    doneAt.sort((a, b) => a - b);
    expect(doneAt[4]).toBeGreaterThanOrEqual(1_200);
    // Spread out, not all answered together after one wait.
    expect((doneAt[4] ?? 0) - (doneAt[0] ?? 0)).toBeGreaterThanOrEqual(700);
  });
});
