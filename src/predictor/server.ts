// The predictor's HTTP endpoints (spec predictor §2), served as the Go agent serves them: plain
// HTTP/1.1 on loopback, no authentication. Every status code and body is Go's; a body that cannot be
// read as a ReplicaRequirements gets 400 with a one-line reason; nothing a client sends can crash it.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Prediction, Requirements } from './algorithm.ts';
import { decodeRequirements } from './request.ts';

/** A body larger than this is refused (Go reads any size; a bound keeps memory safe). */
export const maxBodyBytes = 4 * 1024 * 1024;

export type Predict = (requirements: Requirements) => Prediction;

const textPlain = 'text/plain; charset=utf-8';

/** What go-restful and http.Error write. */
function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': textPlain, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The handler's own errors: http.Error (nosniff, a trailing newline). */
const handlerError = (res: ServerResponse, status: number, message: string): void => {
  text(res, status, `${message}\n`, { 'X-Content-Type-Options': 'nosniff' });
};

function readBody(req: IncomingMessage): Promise<{ ok: true; body: string } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: { ok: true; body: string } | { ok: false; reason: string }): void => {
      if (done) return;
      done = true;
      resolve(r);
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBodyBytes) finish({ ok: false, reason: `request body larger than ${String(maxBodyBytes)} bytes` });
      else chunks.push(c);
    });
    req.on('end', () => {
      finish({ ok: true, body: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', (err) => {
      finish({ ok: false, reason: err.message });
    });
  });
}

async function handlePredict(req: IncomingMessage, res: ServerResponse, predict: Predict): Promise<void> {
  const read = await readBody(req);
  if (!read.ok) {
    // Go answers an unreadable body with 500 and the I/O error; a too-large one is the client's fault.
    handlerError(res, read.reason.startsWith('request body larger') ? 400 : 500, read.reason);
    return;
  }
  const decoded = decodeRequirements(read.body);
  if (!decoded.ok) {
    handlerError(res, 400, decoded.reason);
    return;
  }
  const result = predict(decoded.requirements);
  if (!result.ok) {
    handlerError(res, 500, result.message);
    return;
  }
  const body = JSON.stringify({ replicas: { default: result.replicas } }, null, 1);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Routes a request (exported for tests). */
export function route(req: IncomingMessage, res: ServerResponse, predict: Predict): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  const endpoint = (want: string, run: () => void): void => {
    if (method === want) run();
    else text(res, 405, '405: Method Not Allowed', { Allow: want });
  };
  if (path === '/replicas/predict' || path === '/replicas/predict/') {
    endpoint('POST', () => {
      handlePredict(req, res, predict).catch((err: unknown) => {
        // A bug: answer rather than leave the caller (the scheduler waits 20 s) hanging.
        if (!res.headersSent) handlerError(res, 500, err instanceof Error ? err.message : String(err));
        else res.destroy();
      });
    });
  } else if (path === '/replicas/unscheduled' || path === '/replicas/unscheduled/') {
    endpoint('GET', () => {
      text(res, 500, 'Not Implemented\n');
    });
  } else if (path === '/replicas' || path.startsWith('/replicas/')) {
    text(res, 404, '404: Page Not Found');
  } else {
    handlerError(res, 404, '404 page not found');
  }
}

export function createPredictorServer(predict: Predict): Server {
  return createServer((req, res) => {
    route(req, res, predict);
  });
}
