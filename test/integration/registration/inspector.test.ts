// `--statechart-inspector`: the agent streams every machine's snapshots and events to a real Stately
// inspector server (`@statelyai/inspect/server`, which relays what the agent sends to the other
// clients: here a websocket client of the test, where the browser would be), and nothing secret goes
// with them. An unreachable inspector gets one warn line, and the agent works on.

import { CoreV1Api } from '@kubernetes/client-node';
import { createServer } from 'node:net';
import { createInspectorServer } from '@statelyai/inspect/server';
import WebSocket from 'isomorphic-ws';
import { describe, expect, it } from 'vitest';
import { testEnv } from '../../env/vitest-env.ts';
import type { AgentProcess } from '../helpers/agent-process.ts';
import { registrationParent } from '../helpers/parent.ts';

const env = testEnv();
const reg = registrationParent(env);
const systemNamespace = (): Promise<string> => reg.systemNamespace();
const agent = (ns: string, inspector: string): AgentProcess =>
  reg.agent([`--leader-elect-resource-namespace=${ns}`, `--statechart-inspector=${inspector}`, '--secure-port=0']);

/** A port nothing listens on (bound, then released). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => {
        resolve(typeof addr === 'object' && addr !== null ? addr.port : 0);
      });
    });
  });

interface Sent {
  readonly type: string;
  readonly sessionId?: string;
  readonly name?: string;
}

const machines = ['agent', 'leadership', 'registration', 'heartbeat', 'socket', 'deployer', 'predictor', 'mcs'];

describe('the statechart inspector', () => {
  it("receives every machine's snapshots and events, and no secret", async () => {
    const port = await freePort();
    const server = createInspectorServer({ port, autoOpen: false });
    const raw: string[] = [];
    const observer = new WebSocket(`ws://127.0.0.1:${String(port)}`);
    await new Promise<void>((resolve, reject) => {
      observer.onopen = () => {
        resolve();
      };
      observer.onerror = (e) => {
        reject(new Error(e.message));
      };
    });
    observer.onmessage = (m) => {
      raw.push(typeof m.data === 'string' ? m.data : Buffer.from(m.data as ArrayBuffer).toString('utf8'));
    };
    try {
      const ns = await systemNamespace();
      const a = agent(ns, `ws://127.0.0.1:${String(port)}`);
      await a.waitForState('leading.serving.working', 90_000, 'agent');
      await a.waitForLine(
        'a heartbeat report',
        (l) => l.transition?.machine === 'heartbeat' && l.transition.to.includes('settling'),
        60_000,
      );
      const secret = await env
        .adminClient('child', CoreV1Api)
        .readNamespacedSecret({ name: 'parent-cluster', namespace: ns });
      const dedicatedToken = Buffer.from(secret.data?.token ?? '', 'base64').toString('utf8');
      a.kill('SIGTERM');
      expect(await a.exited).toMatchObject({ code: 0 });
      await new Promise((r) => setTimeout(r, 500));

      const sent = raw.map((r) => JSON.parse(r) as Sent);
      const nameOf = new Map(sent.filter((s) => s.type === '@xstate.actor').map((s) => [s.sessionId, s.name]));
      const seen = (type: string): Set<string | undefined> =>
        new Set(sent.filter((s) => s.type === type).map((s) => nameOf.get(s.sessionId)));
      for (const m of machines) {
        expect(seen('@xstate.actor'), `actor ${m}`).toContain(m);
        expect(seen('@xstate.snapshot'), `snapshots of ${m}`).toContain(m);
        expect(seen('@xstate.event'), `events of ${m}`).toContain(m);
      }
      // The children's reports reached the root, and the drain happened before the Lease was released.
      const text = raw.join('\n');
      expect(text).toContain('"registration.registered"');
      expect(text).toContain('"heartbeat.reported"');
      expect(text).toContain('"deployer.drained"');
      // Nothing secret: the bootstrap token, the dedicated token, any private key.
      expect(dedicatedToken.length).toBeGreaterThan(10);
      expect(text).not.toContain(reg.token().token);
      expect(text).not.toContain(reg.token().token.split('.')[1] ?? reg.token().token);
      expect(text).not.toContain(dedicatedToken);
      expect(text).not.toContain('PRIVATE KEY');
    } finally {
      observer.close();
      server.stop();
    }
  }, 180_000);

  it('an unreachable inspector gets exactly one warn line; the agent works on', async () => {
    const port = await freePort();
    const ns = await systemNamespace();
    const a = agent(ns, `ws://127.0.0.1:${String(port)}`);
    await a.waitForState('leading.serving.working', 90_000, 'agent');
    // The module's socket retries every 5 s: wait for a few retries.
    await new Promise((r) => setTimeout(r, 12_000));
    const warnings = a.lines.filter((l) => l.level === 'warn' && /inspector/i.test(l.msg ?? ''));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/unreachable/);
  }, 180_000);
});
