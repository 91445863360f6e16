import { describe, expect, it } from 'vitest';
import type { RegistrationProblem } from '../../../machines/registration/problems.ts';
import { AgentMetrics } from '../../../src/observability/metrics.ts';

const t = (machine: string, from: string, to: string) => ({ machine, from, to, event: 'x' });

describe('statechart metrics', () => {
  it('shows no stale state for machines stopped when leadership ends, nor for a new run', async () => {
    const m = new AgentMetrics({ processMetrics: false });
    const none = { leading: false, registered: false };
    const leading = { leading: true, registered: false };
    const serving = { leading: true, registered: true };
    m.observeTransition(t('agent', '', 'standby'));
    m.observeTransition(t('agent', 'standby', 'leading.registering'));
    m.observeRoot(leading, none);
    m.observeTransition(t('registration', '', 'resolvingIdentity'));
    m.observeTransition(t('registration', 'resolvingIdentity', 'registered'));
    m.observeTransition(t('agent', 'leading.registering', 'leading.serving'));
    m.observeRoot(serving, leading);
    expect(await m.text()).toMatch(/^clusternet_agent_registered 1$/m);
    m.observeTransition(t('agent', 'leading.serving', 'standby'));
    m.observeRoot(none, serving);
    let text = await m.text();
    expect(text).toMatch(/^clusternet_agent_machine_state\{machine="registration",state="registered"\} 0$/m);
    expect(text).toMatch(/^clusternet_agent_leader 0$/m);
    expect(text).toMatch(/^clusternet_agent_registered 0$/m);
    expect(text).toMatch(/^clusternet_agent_leader_changes_total\{change="stopped"\} 1$/m);
    m.observeTransition(t('registration', '', 'resolvingIdentity'));
    text = await m.text();
    expect(text).toMatch(/^clusternet_agent_machine_state\{machine="registration",state="resolvingIdentity"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_machine_state\{machine="registration",state="registered"\} 0$/m);
  });

  it('counts the actors of a machine that runs several at once (helm runs); a finished one is in no state', async () => {
    const m = new AgentMetrics({ processMetrics: false });
    const state = async (s: string): Promise<string | undefined> =>
      new RegExp(`^clusternet_agent_machine_state\\{machine="helmRun",state="${s}"\\} (\\d+)$`, 'm').exec(
        await m.text(),
      )?.[1];
    m.observeTransition(t('helmRun', '', 'alive.running'), 'x:1');
    m.observeTransition(t('helmRun', '', 'alive.running'), 'x:2');
    expect(await state('alive.running')).toBe('2');
    m.observeTransition(t('helmRun', 'alive.running', 'exited'), 'x:1');
    expect([await state('alive.running'), await state('exited')]).toEqual(['1', '1']);
    m.observeEnd('x:1');
    expect([await state('alive.running'), await state('exited')]).toEqual(['1', '0']);
    m.observeTransition(t('helmRun', 'alive.running', 'terminating'), 'x:2');
    expect([await state('alive.running'), await state('terminating')]).toEqual(['0', '1']);
    m.observeEnd('x:2');
    m.observeEnd('x:2');
    expect(await state('terminating')).toBe('0');
  });

  it('says what holds registration up: 1 for the current reason, 0 for the others', async () => {
    const m = new AgentMetrics({ processMetrics: false });
    let text = await m.text();
    expect(text).toMatch(/^clusternet_agent_registration_problem\{reason="approvedCredentialsRejected"\} 0$/m);
    m.setRegistrationProblem('approvedCredentialsRejected');
    text = await m.text();
    expect(text).toMatch(/^clusternet_agent_registration_problem\{reason="approvedCredentialsRejected"\} 1$/m);
    expect(text.match(/^clusternet_agent_registration_problem\{.*\} 1$/gm)).toHaveLength(1);
    m.setRegistrationProblem(undefined);
    text = await m.text();
    expect(text).not.toMatch(/^clusternet_agent_registration_problem\{.*\} 1$/m);
  });

  it('counts a registration once, not each passing credentials check; a problem once per streak', async () => {
    const m = new AgentMetrics({ processMetrics: false });
    const problem = (p: RegistrationProblem | undefined) =>
      ({ type: 'registration.problem', problem: p, message: p }) as const;
    m.observeReport({
      type: 'registration.registered',
      clusterId: 'id',
      clusterName: undefined,
      dedicatedNamespace: 'ns',
    });
    m.observeReport({ type: 'credentials.confirmed' });
    m.observeReport({ type: 'registration.revoked' });
    m.observeReport(problem('bootstrapTokenRejected'));
    m.observeReport(problem('bootstrapTokenRejected'));
    m.observeReport(problem('parentUnreachable'));
    m.observeReport(problem(undefined));
    m.observeReport(problem('parentUnreachable'));
    const text = await m.text();
    expect(text).toMatch(/^clusternet_agent_registration_results_total\{result="unreachable"\} 2$/m);
    expect(text).toMatch(/^clusternet_agent_registration_results_total\{result="registered"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_registration_results_total\{result="revoked"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_registration_results_total\{result="rejected"\} 1$/m);
  });

  it('follows the tunnel: up while open, reconnects counted, streams and bytes across sessions', async () => {
    const m = new AgentMetrics({ processMetrics: false });
    let counters = { streams: 2, bytesSent: 100, bytesReceived: 40 };
    m.observeTunnel(() => counters);
    m.observeReport({ type: 'tunnel.connected' });
    let text = await m.text();
    expect(text).toMatch(/^clusternet_agent_tunnel_up 1$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_streams 2$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_bytes_total\{direction="sent"\} 100$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_reconnects_total 0$/m);
    m.observeReport({ type: 'tunnel.disconnected', kind: 'dropped', message: 'EOF' });
    counters = { streams: 0, bytesSent: 150, bytesReceived: 40 };
    text = await m.text();
    expect(text).toMatch(/^clusternet_agent_tunnel_up 0$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_failure\{reason="dropped"\} 1$/m);
    m.observeReport({ type: 'tunnel.connected' });
    text = await m.text();
    expect(text).toMatch(/^clusternet_agent_tunnel_up 1$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_reconnects_total 1$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_bytes_total\{direction="sent"\} 150$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_bytes_total\{direction="received"\} 40$/m);
  });

  it('tunnel_failure: 1 for the way the tunnel fails now, 0 for the others, all 0 once it works', async () => {
    const m = new AgentMetrics({ processMetrics: false });
    expect(await m.text()).toMatch(/^clusternet_agent_tunnel_failure\{reason="status"\} 0$/m);
    m.setTunnelFailure('status');
    let text = await m.text();
    expect(text).toMatch(/^clusternet_agent_tunnel_failure\{reason="status"\} 1$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_failure\{reason="unreachable"\} 0$/m);
    m.setTunnelFailure('forbidden');
    text = await m.text();
    expect(text).toMatch(/^clusternet_agent_tunnel_failure\{reason="status"\} 0$/m);
    expect(text).toMatch(/^clusternet_agent_tunnel_failure\{reason="forbidden"\} 1$/m);
    m.setTunnelFailure(undefined);
    expect(/^clusternet_agent_tunnel_failure\{.*\} 1$/m.exec(await m.text())).toBeNull();
  });
});
