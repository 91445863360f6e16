// Reads a running agent's memory through the inspector, opened only when asked (SIGUSR1; the agent runs
// with --inspect-port=127.0.0.1:0 so the port is free): process.memoryUsage(), and a heap snapshot
// summarised into the largest groups of objects and the code loaded per package. Used by bench:memory.

import WebSocket from 'ws';
import { eventually } from '../env/eventually.ts';

export interface Group {
  key: string;
  bytes: number;
  count: number;
}
export interface SnapshotSummary {
  totalBytes: number;
  nodeCount: number;
  groups: Group[];
  packages: Group[];
  /** The strings by what holds them: their first three retainers (`type: name .edge`, each held by the next). */
  stringRetainers: Group[];
}
export interface Inspection {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  snapshot?: SnapshotSummary;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** `node_modules/<pkg>` (or `@scope/pkg`), `agent` for the agent's own files, `node:` for built-ins. */
export function packageOf(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (m !== null) {
    const pkg = m[1] ?? '';
    // client-node's generated code, the bulk of it, by folder.
    const gen = /^dist\/gen\/(models|apis|types)\//.exec(m[2] ?? '');
    return gen === null ? pkg : `${pkg} (gen/${gen[1] ?? ''})`;
  }
  if (url.startsWith('node:') || !url.includes('/')) return 'node: built-ins';
  return 'agent (dist/)';
}

/** Where a snapshot's node and edge fields sit in its flat arrays, and its type names. */
function layoutOf(s: Snapshot) {
  const meta = s.snapshot.meta;
  const node = (f: string): number => meta.node_fields.indexOf(f);
  const edge = (f: string): number => meta.edge_fields.indexOf(f);
  return {
    nf: meta.node_fields.length,
    ef: meta.edge_fields.length,
    types: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    iType: node('type'),
    iName: node('name'),
    iSize: node('self_size'),
    iEdges: node('edge_count'),
    eType: edge('type'),
    eName: edge('name_or_index'),
    eTo: edge('to_node'),
  };
}

/** Self sizes grouped by type and name, and code (scripts, their sources and functions) by package. */
export function summarise(s: Snapshot, top = 15): SnapshotSummary {
  const { nf, ef, types, edgeTypes, iType, iName, iSize, iEdges, eType, eName, eTo } = layoutOf(s);
  const { nodes, edges, strings } = s;
  const count = nodes.length / nf;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += (nodes[i * nf + iEdges] ?? 0) * ef;
    firstEdge[i + 1] = e;
  }
  const groups = new Map<string, Group>();
  const add = (m: Map<string, Group>, key: string, bytes: number) => {
    const g = m.get(key) ?? { key, bytes: 0, count: 0 };
    g.bytes += bytes;
    g.count += 1;
    m.set(key, g);
  };
  let total = 0;
  for (let i = 0; i < count; i++) {
    const type = types[nodes[i * nf + iType] ?? 0] ?? '';
    const name = strings[nodes[i * nf + iName] ?? 0] ?? '';
    const size = nodes[i * nf + iSize] ?? 0;
    total += size;
    const key =
      type === 'string' || type === 'concatenated string' || type === 'sliced string'
        ? 'string'
        : `${type}: ${name.length > 60 ? `${name.slice(0, 57)}…` : name}`;
    add(groups, key, size);
  }
  // Scripts are `code` objects named by their URL with a `source` edge; a function (SharedFunctionInfo) has
  // a `script` edge to its script. Each function, its bytecode and its scope data are charged to its script.
  const edgeName = (e: number): string | undefined => {
    const t = edgeTypes[edges[e + eType] ?? 0];
    return t === 'element' || t === 'hidden' ? undefined : strings[edges[e + eName] ?? 0];
  };
  const scriptUrl = new Map<number, string>();
  const owner = new Int32Array(count).fill(-1);
  for (let i = 0; i < count; i++) {
    if (types[nodes[i * nf + iType] ?? 0] !== 'code') continue;
    let script = -1;
    let source = -1;
    for (let e = firstEdge[i] ?? 0; e < (firstEdge[i + 1] ?? 0); e += ef) {
      const en = edgeName(e);
      if (en === 'script') script = (edges[e + eTo] ?? 0) / nf;
      if (en === 'source') source = (edges[e + eTo] ?? 0) / nf;
    }
    if (source >= 0) {
      scriptUrl.set(i, strings[nodes[i * nf + iName] ?? 0] ?? '');
      owner[source] = i;
    } else if (script >= 0) {
      owner[i] = script;
      for (let e = firstEdge[i] ?? 0; e < (firstEdge[i + 1] ?? 0); e += ef) {
        const en = edgeName(e);
        if (en !== undefined && /function_data|scope_info|feedback_metadata/.test(en))
          owner[(edges[e + eTo] ?? 0) / nf] = script;
      }
    }
  }
  const packages = new Map<string, Group>();
  const scriptCounted = new Set<number>();
  for (let i = 0; i < count; i++) {
    const script = scriptUrl.has(i) ? i : (owner[i] ?? -1);
    if (script < 0 || !scriptUrl.has(script)) continue;
    const key = packageOf(scriptUrl.get(script) ?? '');
    const g = packages.get(key) ?? { key, bytes: 0, count: 0 };
    g.bytes += nodes[i * nf + iSize] ?? 0;
    if (!scriptCounted.has(script)) {
      scriptCounted.add(script);
      g.count += 1;
    }
    packages.set(key, g);
  }
  const sorted = (m: Map<string, Group>) => [...m.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
  return {
    totalBytes: total,
    nodeCount: count,
    groups: sorted(groups),
    packages: sorted(packages),
    stringRetainers: sorted(stringRetainers(s, firstEdge)),
  };
}

const isString = (type: string) => type === 'string' || type === 'concatenated string' || type === 'sliced string';

/**
 * Every string's self size charged to its chain of first retainers (by strong edges), three deep:
 * `retainer type: name .edge <- its retainer .edge <- …`. A string held from several places is counted
 * once, under the first the snapshot lists.
 */
function stringRetainers(s: Snapshot, firstEdge: Uint32Array): Map<string, Group> {
  const { nf, ef, types, edgeTypes, iType, iName, iSize, eType, eName, eTo } = layoutOf(s);
  const { nodes, edges, strings } = s;
  const count = nodes.length / nf;
  const retainer = new Int32Array(count).fill(-1);
  const viaEdge = new Int32Array(count).fill(-1);
  for (let i = 0; i < count; i++) {
    for (let e = firstEdge[i] ?? 0; e < (firstEdge[i + 1] ?? 0); e += ef) {
      if (edgeTypes[edges[e + eType] ?? 0] === 'weak') continue;
      const to = (edges[e + eTo] ?? 0) / nf;
      if (retainer[to] === -1) {
        retainer[to] = i;
        viaEdge[to] = e;
      }
    }
  }
  const describe = (i: number): string => {
    if (i < 0) return '(none)';
    const type = types[nodes[i * nf + iType] ?? 0] ?? '';
    const raw = strings[nodes[i * nf + iName] ?? 0] ?? '';
    const name = isString(type) ? '' : raw.length > 40 ? `${raw.slice(0, 37)}…` : raw;
    return `${type}: ${name}`;
  };
  const edgeLabel = (node: number): string => {
    const e = viaEdge[node] ?? -1;
    if (e < 0) return '';
    const t = edgeTypes[edges[e + eType] ?? 0] ?? '';
    const name = t === 'element' || t === 'hidden' ? '' : (strings[edges[e + eName] ?? 0] ?? '');
    // Indexed slots (elements, a Map's table, numbered internal fields) as one group.
    return name === '' || /^\d+$/.test(name) ? `[${t}]` : `.${name}`;
  };
  const out = new Map<string, Group>();
  for (let i = 0; i < count; i++) {
    if (!isString(types[nodes[i * nf + iType] ?? 0] ?? '')) continue;
    const chain: string[] = [];
    for (let n = i, depth = 0; depth < 3 && n >= 0; depth++) {
      const r = retainer[n] ?? -1;
      chain.push(`${describe(r)} ${edgeLabel(n)}`);
      n = r;
    }
    const key = chain.join(' <- ');
    const g = out.get(key) ?? { key, bytes: 0, count: 0 };
    g.bytes += nodes[i * nf + iSize] ?? 0;
    g.count += 1;
    out.set(key, g);
  }
  return out;
}

class Cdp {
  private id = 0;
  private readonly pending = new Map<number, (r: { result?: unknown; error?: unknown }) => void>();
  private readonly listeners = new Map<string, (params: Record<string, unknown>) => void>();
  private readonly ws: WebSocket;
  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (d: Buffer) => {
      const msg = JSON.parse(d.toString()) as { id?: number; method?: string; params?: Record<string, unknown> };
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg as { result?: unknown });
      else if (msg.method !== undefined) this.listeners.get(msg.method)?.(msg.params ?? {});
    });
  }
  on(method: string, fn: (params: Record<string, unknown>) => void): void {
    this.listeners.set(method, fn);
  }
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => {
        this.pending.delete(id);
        if (r.error !== undefined) reject(new Error(`${method}: ${JSON.stringify(r.error)}`));
        else resolve(r.result);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
}

export async function inspectProcess(
  pid: number,
  lines: Record<string, unknown>[],
  snapshot: boolean,
): Promise<Inspection> {
  process.kill(pid, 'SIGUSR1');
  const url = await eventually(
    'the inspector',
    () => {
      const l = lines.findLast((x) => typeof x.text === 'string' && x.text.includes('Debugger listening on ws://'));
      return Promise.resolve(/ws:\/\/\S+/.exec(typeof l?.text === 'string' ? l.text : '')?.[0]);
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  const ws = new WebSocket(url, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const cdp = new Cdp(ws);
  try {
    const r = (await cdp.send('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    const usage = JSON.parse(r.result.value) as Omit<Inspection, 'snapshot'>;
    if (!snapshot) return usage;
    const chunks: string[] = [];
    cdp.on('HeapProfiler.addHeapSnapshotChunk', (p) => chunks.push(String(p.chunk)));
    await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    return { ...usage, snapshot: summarise(JSON.parse(chunks.join('')) as Snapshot) };
  } finally {
    ws.close();
  }
}
