// Preloaded into the agent by bench scripts (node --import): counts the agent's HTTP requests by
// server, method and path, from Node's diagnostics channels (undici for client-node, node:http for
// raw GETs), and prints the running totals to stderr as one JSON line per second.

import { subscribe } from 'node:diagnostics_channel';

const counts: Record<string, number> = {};
const count = (origin: string, method: string, path: string): void => {
  const key = `${origin} ${method} ${path.split('?')[0] ?? ''}`;
  counts[key] = (counts[key] ?? 0) + 1;
};

subscribe('undici:request:create', (message) => {
  const r = (message as { request: { origin: string; method: string; path: string } }).request;
  count(r.origin, r.method, r.path);
});
subscribe('http.client.request.start', (message) => {
  const r = (message as { request: { protocol: string; host: string; method: string; path: string } }).request;
  count(`${r.protocol}//${r.host}`, r.method, r.path);
});

setInterval(() => {
  process.stderr.write(`${JSON.stringify({ requestCounts: counts })}\n`);
}, 1000).unref();
