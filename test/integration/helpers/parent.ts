// What most integration tests need around the agent: the parent prepared as a hub would prepare it
// (CRDs, bootstrapping RBAC, a bootstrap token, the test approver), a fresh system namespace in the
// child per test (so its own Lease and cluster ID), and agents stopped after each test.

import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { bootstrapGroup, prepareParent, TestApprover, type ApproverOptions } from '../../approver/approver.ts';
import type { BootstrapToken } from '../../env/fixtures.ts';
import type { TestEnv } from '../../env/test-env.ts';
import { AgentProcess } from './agent-process.ts';

export interface RegistrationParent {
  /** The bootstrap token (set once the suite's beforeAll ran). */
  readonly token: () => BootstrapToken;
  readonly approver: () => TestApprover;
  /** A new namespace in the child to use as the agent's system namespace. */
  systemNamespace(prefix?: string): Promise<string>;
  /**
   * Starts an agent against the parent with the bootstrap token (later flags win, e.g. another
   * --cluster-reg-parent-url); stopped after the test. `env` replaces the test process's environment.
   */
  agent(args: readonly string[], env?: NodeJS.ProcessEnv): AgentProcess;
  /** Stops an agent the test started itself after the test. */
  track(agent: AgentProcess): AgentProcess;
}

/** Registers the suite hooks; call at the top level of a test file. */
export function registrationParent(env: TestEnv, opts: ApproverOptions = {}): RegistrationParent {
  let token: BootstrapToken | undefined;
  let approver: TestApprover | undefined;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
    token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
    approver = new TestApprover(env.adminKubeConfig('parent'), opts);
    approver.start();
  });
  afterAll(async () => {
    await approver?.stop();
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
  });
  // A test that waited for a registration in vain says why the approver did not approve.
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      const why = [...(approver?.failures ?? [])].map(([name, err]) => `\n  ${name}: ${err}`).join('');
      if (why !== '') process.stderr.write(`the test approver's requests that failed, last error of each:${why}\n`);
      if (approver?.lastError !== undefined)
        process.stderr.write(`the test approver's list failed: ${approver.lastError}\n`);
    });
  });
  const must = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not ready: registrationParent's beforeAll has not run`);
    return v;
  };
  return {
    token: () => must(token, 'the bootstrap token'),
    approver: () => must(approver, 'the approver'),
    systemNamespace: async (prefix = 'cnet') => {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name } } });
      return name;
    },
    agent: (args, processEnv) => {
      const a = AgentProcess.start(
        [
          `--cluster-reg-parent-url=${env.server('parent')}`,
          `--cluster-reg-token=${must(token, 'the bootstrap token').token}`,
          `--kubeconfig=${env.adminKubeconfigPath('child')}`,
          ...args,
        ],
        processEnv,
      );
      agents.push(a);
      return a;
    },
    track: (a) => {
      agents.push(a);
      return a;
    },
  };
}
