// The JSON schema of the chart's `extraArgs`, derived from the agent's own flag table: one property per
// flag the chart does not set itself, typed by the flag's kind. values.schema.json carries a copy, kept
// equal by test/unit/chart/schema.test.ts; regenerate it with `node test/chart/extra-args-schema.ts`.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flagSpecs, type FlagKind } from '../../src/config/flags.ts';

/**
 * Flags the chart renders from its own values. extraArgs may still give them, as with Clusternet's
 * charts (the v0.7.0-era chart has no other way to set them): rendered later, they win.
 */
export const chartManagedFlags: readonly string[] = [
  'cluster-reg-parent-url',
  'cluster-reg-token',
  'leader-elect',
  'leader-elect-resource-namespace',
  'kube-api-qps',
  'kube-api-burst',
  'secure-port',
];

/** Flags that make no sense in a pod: the agent would print and exit. */
export const refusedFlags: readonly string[] = ['version', 'help'];

/** klog's severity threshold is a number in v0.7.0-era values files (`stderrthreshold: 2`). */
const numericStringFlags: readonly string[] = ['stderrthreshold'];

type Schema = Readonly<Record<string, unknown>>;

const stringOrList: Schema = {
  anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
};

function schemaOf(kind: FlagKind): Schema {
  switch (kind) {
    case 'string':
    case 'optionalString':
    case 'ip':
      return { type: 'string' };
    case 'bool':
      return {
        anyOf: [{ type: 'boolean' }, { type: 'string', pattern: '^(1|t|T|true|TRUE|True|0|f|F|false|FALSE|False)$' }],
      };
    case 'int':
      return { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[-+]?[0-9]+$' }] };
    case 'float':
      return {
        anyOf: [
          { type: 'number' },
          { type: 'string', pattern: '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' },
        ],
      };
    case 'duration':
      return { type: 'string', pattern: '^([-+]?([0-9]*(\\.[0-9]*)?(ns|us|µs|ms|s|m|h))+|0)$' };
    case 'stringArray':
    case 'stringSlice':
      return stringOrList;
  }
}

export function extraArgsSchema(): Schema {
  const properties: Record<string, Schema> = {};
  for (const spec of flagSpecs) {
    if (refusedFlags.includes(spec.name)) continue;
    const schema = numericStringFlags.includes(spec.name)
      ? { anyOf: [{ type: 'string' }, { type: 'integer' }] }
      : schemaOf(spec.kind);
    properties[spec.name] = { description: spec.usage, ...schema };
    // v0.7.0's klog flags are spelled with underscores (`log_dir`); the agent takes either spelling.
    if (spec.ignored === true && spec.name.includes('-')) {
      properties[spec.name.replaceAll('-', '_')] = { description: `${spec.usage} (as ${spec.name})`, ...schema };
    }
  }
  return {
    type: 'object',
    description:
      "Further agent flags, one --<key>=<value> each, after the chart's own (a list repeats the flag; of a repeated flag the last wins); only the agent's own flags",
    additionalProperties: false,
    properties,
  };
}

export const valuesSchemaPath = fileURLToPath(
  new URL('../../charts/clusternet-agent/values.schema.json', import.meta.url),
);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const schema = JSON.parse(readFileSync(valuesSchemaPath, 'utf8')) as { properties: Record<string, unknown> };
  schema.properties.extraArgs = extraArgsSchema();
  writeFileSync(valuesSchemaPath, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${valuesSchemaPath}; run \`npx prettier --write\` on it before committing\n`);
}
