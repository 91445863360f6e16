// The agent process as the tunnel tests and the log-volume measurements run it: registering with a
// new bootstrap token (the approver must run), the SocketConnection gate on, its Lease in a namespace
// of its own, /readyz and /metrics over plain HTTP on a free loopback port.

import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { bootstrapGroup } from '../../approver/approver.ts';
import { freePorts } from '../../env/net.ts';
import type { TestEnv } from '../../env/test-env.ts';
import { AgentProcess } from './agent-process.ts';

export interface TunnelledAgent {
  readonly agent: AgentProcess;
  /** Where it serves /readyz and /metrics (http://127.0.0.1:port). */
  readonly port: number;
  /** Its Lease's namespace in the child. */
  readonly namespace: string;
}

/** Starts the agent; `args` come first (a verbosity, a report period). */
export async function startTunnelledAgent(
  env: TestEnv,
  opts: { readonly namespacePrefix: string; readonly args?: readonly string[] },
): Promise<TunnelledAgent> {
  const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  const namespace = `${opts.namespacePrefix}-${randomBytes(3).toString('hex')}`;
  await env.adminClient('child', CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  const [port = 0] = await freePorts(1);
  const agent = AgentProcess.start([
    ...(opts.args ?? []),
    `--cluster-reg-parent-url=${env.server('parent')}`,
    `--cluster-reg-token=${token.token}`,
    `--kubeconfig=${env.adminKubeconfigPath('child')}`,
    `--leader-elect-resource-namespace=${namespace}`,
    '--feature-gates=SocketConnection=true',
    '--insecure-serving',
    '--bind-address=127.0.0.1',
    `--secure-port=${String(port)}`,
  ]);
  return { agent, port, namespace };
}
