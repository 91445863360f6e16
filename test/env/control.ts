// The environment's control endpoint: a loopback HTTP API, guarded by a random bearer token, through
// which test workers (other processes) stop, kill, restart, pause or resume a single component.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { componentActions, componentNames, type ComponentAction, type ComponentName } from './cluster.ts';
import type { Environment } from './environment.ts';

export type { ComponentAction };

export interface ControlServer {
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

const isComponent = (s: string): s is ComponentName => (componentNames as readonly string[]).includes(s);
const isAction = (s: string): s is ComponentAction => (componentActions as readonly string[]).includes(s);

export async function serveControl(env: Environment, onShutdown: () => void): Promise<ControlServer> {
  const token = randomBytes(24).toString('hex');
  const expected = Buffer.from(`Bearer ${token}`);
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const auth = Buffer.from(req.headers.authorization ?? '');
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
      reply(res, 401, { error: 'unauthorized' });
      return;
    }
    const parts = (req.url ?? '/').split('/').filter(Boolean);
    if (req.method === 'GET' && parts.join('/') === 'status') {
      reply(res, 200, env.status());
      return;
    }
    if (req.method === 'POST' && parts.join('/') === 'shutdown') {
      reply(res, 202, { shuttingDown: true });
      onShutdown();
      return;
    }
    // POST /clusters/<cluster>/components/<component>/<action>
    const [c, cluster = '', k, component = '', action = ''] = parts;
    if (req.method === 'POST' && c === 'clusters' && k === 'components' && isComponent(component) && isAction(action)) {
      reply(res, 200, await env.cluster(cluster).act(component, action));
      return;
    }
    reply(res, 404, { error: `no route ${req.method ?? ''} ${req.url ?? ''}` });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      reply(res, 500, { error: err instanceof Error ? err.message : String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('control server has no address');
  return {
    url: `http://127.0.0.1:${String(addr.port)}`,
    token,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Calls the control endpoint; throws with the server's message on any non-2xx answer. */
export async function callControl(
  control: { url: string; token: string },
  method: 'GET' | 'POST',
  path: string,
): Promise<unknown> {
  const res = await fetch(`${control.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${control.token}` },
    signal: AbortSignal.timeout(180_000),
  });
  const body: unknown = await res.json();
  if (!res.ok) {
    const msg = (body as { error?: string }).error ?? JSON.stringify(body);
    throw new Error(`${method} ${path}: ${String(res.status)} ${msg}`);
  }
  return body;
}
