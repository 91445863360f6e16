// Decoding a `POST /replicas/predict` body, a ReplicaRequirements (spec predictor §2.1), as Go's
// decoder reads it: `null` or `{}` asks for nothing, unknown fields are ignored, struct field names
// match case-insensitively (map keys do not), a Quantity is a string or a bare number. Anything else
// is refused with a one-line reason (the server answers 400 with it). Pure.

import type { Requirements, Toleration } from './algorithm.ts';
import { countOf, emptyAmounts, addAmount, resourceKind } from './resources.ts';
import { parseQuantity } from '../kube/quantity.ts';

export type Decoded =
  { readonly ok: true; readonly requirements: Requirements } | { readonly ok: false; readonly reason: string };

class DecodeError extends Error {}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: Json | undefined): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (v: Json): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`);

/** A struct field: the exact name, else the first key equal to it ignoring case. */
function field(obj: Record<string, Json>, name: string): Json | undefined {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

function expectObject(v: Json | undefined, path: string): Record<string, Json> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new DecodeError(`${path}: expected an object, got ${describe(v)}`);
  return v;
}

function expectString(v: Json | undefined, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DecodeError(`${path}: expected a string, got ${describe(v)}`);
  return v;
}

function stringMap(v: Json | undefined, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(expectObject(v, path) ?? {})) {
    const s = expectString(val, `${path}[${JSON.stringify(k)}]`);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** A ResourceList: every value a valid quantity (as Go decodes it), as strings. */
function resourceList(v: Json | undefined, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, q] of Object.entries(expectObject(v, path) ?? {})) {
    const where = `${path}[${JSON.stringify(name)}]`;
    // A bare number is read as the quantity it spells.
    const text = typeof q === 'number' ? String(q) : q === null ? '0' : expectString(q, where);
    if (text === undefined) continue;
    try {
      parseQuantity(text);
    } catch {
      throw new DecodeError(
        `${where}: quantities must match the regular expression of a Kubernetes quantity, got ${JSON.stringify(text)}`,
      );
    }
    out[name] = text;
  }
  return out;
}

function toleration(v: Json, path: string): Toleration {
  const o = expectObject(v, path) ?? {};
  const seconds = field(o, 'tolerationSeconds');
  if (seconds !== undefined && seconds !== null && (typeof seconds !== 'number' || !Number.isInteger(seconds)))
    throw new DecodeError(`${path}.tolerationSeconds: expected an integer, got ${describe(seconds)}`);
  return {
    key: expectString(field(o, 'key'), `${path}.key`),
    operator: expectString(field(o, 'operator'), `${path}.operator`),
    value: expectString(field(o, 'value'), `${path}.value`),
    effect: expectString(field(o, 'effect'), `${path}.effect`),
  };
}

function requirementsOf(body: Json): Requirements {
  const o = expectObject(body, 'ReplicaRequirements') ?? {};
  const tolerationsJson = field(o, 'tolerations');
  if (tolerationsJson !== undefined && tolerationsJson !== null && !Array.isArray(tolerationsJson))
    throw new DecodeError(`tolerations: expected an array, got ${describe(tolerationsJson)}`);
  expectObject(field(o, 'affinity'), 'affinity'); // accepted, not used (spec predictor §3 step 1)
  const resources = expectObject(field(o, 'resources'), 'resources') ?? {};
  resourceList(field(resources, 'limits'), 'resources.limits'); // checked as Go decodes it, not used
  const claims = field(resources, 'claims');
  if (claims !== undefined && claims !== null && !Array.isArray(claims))
    throw new DecodeError(`resources.claims: expected an array, got ${describe(claims)}`);
  const requests = emptyAmounts();
  for (const [name, q] of Object.entries(resourceList(field(resources, 'requests'), 'resources.requests'))) {
    const kind = resourceKind(name);
    if (kind === undefined || kind === 'pods') continue;
    addAmount(requests, kind, name, countOf(kind, q));
  }
  return {
    nodeSelector: stringMap(field(o, 'nodeSelector'), 'nodeSelector'),
    tolerations: (tolerationsJson ?? []).map((t, i) => toleration(t, `tolerations[${String(i)}]`)),
    requests,
  };
}

/** The requirements of a request body, or why it cannot be read (one line). */
export function decodeRequirements(body: string): Decoded {
  let json: Json;
  try {
    json = JSON.parse(body) as Json;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `decoding ReplicaRequirements: ${why.replace(/\s+/g, ' ')}` };
  }
  try {
    return { ok: true, requirements: requirementsOf(json) };
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, reason: `decoding ReplicaRequirements: ${err.message}` };
    throw err;
  }
}
