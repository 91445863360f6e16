// Writes the "## Parameters" section of the chart's README from the `## @section` and `## @param`
// annotations of values.yaml and the values themselves (test/unit/chart/schema.test.ts checks that every
// parameter is documented). Run `node test/chart/readme-params.ts`, then `npx prettier --write` the README.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadYaml } from '@kubernetes/client-node';
import { chartDir } from './helm.ts';

/** One JSON-ish default: `{"a": 1, "b": [2]}`, as readers of values files expect. */
function show(value: unknown): string {
  return JSON.stringify(value ?? null)
    .replace(/":/g, '": ')
    .replace(/,(?=["{[\d tfn])/g, ', ');
}

function lookup(values: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], values);
}

export function parametersSection(valuesText: string): string {
  const values = loadYaml<Record<string, unknown>>(valuesText);
  const out: string[] = ['## Parameters'];
  for (const line of valuesText.split('\n')) {
    const section = /^## @section (.+)$/.exec(line);
    if (section?.[1] !== undefined) {
      out.push('', `### ${section[1]}`, '', '| Name | Description | Default |', '| --- | --- | --- |');
      continue;
    }
    const param = /^## @param (\S+) (.+)$/.exec(line);
    if (param?.[1] === undefined || param[2] === undefined) continue;
    const description = param[2].replaceAll('|', '\\|');
    out.push(`| \`${param[1]}\` | ${description} | \`${show(lookup(values, param[1]))}\` |`);
  }
  return `${out.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = join(chartDir, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const at = readme.indexOf('## Parameters');
  const section = parametersSection(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
  writeFileSync(readmePath, `${readme.slice(0, at)}${section}`);
  process.stdout.write(`wrote ${readmePath}; run \`npx prettier --write\` on it before committing\n`);
}
