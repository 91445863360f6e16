// What `--help` and `--version` print. Help lists the flags in the Go agent's sections; hidden
// (legacy) flags are accepted but not listed.

import type { VersionFormat } from '../config/config.ts';
import { flagSpecs, sectionOrder, type FlagSpec } from '../config/flags.ts';
import type { VersionInfo } from '../version.ts';
import { redactUrls } from '../logging/redact-url.ts';
import { goYamlObject } from './go-yaml.ts';

const typeName: Readonly<Record<FlagSpec['kind'], string>> = {
  string: 'string',
  bool: '',
  duration: 'duration',
  float: 'float32',
  int: 'int',
  ip: 'ip',
  stringArray: 'stringArray',
  stringSlice: 'strings',
  optionalString: 'version[=short]',
};

function defaultText(spec: FlagSpec): string {
  const d = spec.default;
  if (spec.secret === true || d === '' || d === false || (Array.isArray(d) && d.length === 0)) return '';
  if (spec.kind === 'string') return ` (default ${redactUrls(JSON.stringify(d))})`;
  return ` (default ${redactUrls(Array.isArray(d) ? `[${d.join(',')}]` : String(d))})`;
}

function flagLine(spec: FlagSpec): [string, string] {
  const names = spec.shorthand === undefined ? `      --${spec.name}` : `  -${spec.shorthand}, --${spec.name}`;
  const type = typeName[spec.kind];
  return [`${names}${type === '' ? '' : ` ${type}`}`, `${spec.usage}${defaultText(spec)}`];
}

export function renderUsage(): string {
  const out = [
    'The clusternet-agent runs in a child cluster: it registers the cluster with a parent cluster running',
    'Clusternet, reports its status, keeps a websocket tunnel to the parent and applies the workloads the',
    'parent publishes.',
    '',
    'Usage:',
    '  clusternet-agent [flags]',
  ];
  for (const section of sectionOrder) {
    const lines = flagSpecs.filter((s) => s.section === section && s.hidden !== true).map(flagLine);
    const width = Math.max(...lines.map(([l]) => l.length)) + 3;
    out.push('', `${section} flags:`, '');
    for (const [left, right] of lines) out.push(`${left.padEnd(width)}${right}`);
  }
  return `${out.join('\n')}\n`;
}

export function formatVersion(info: VersionInfo, format: VersionFormat): string {
  switch (format) {
    case 'short':
      return `${info.programName} version: ${info.gitVersion}\n`;
    case 'json':
      return `${JSON.stringify(info, null, 2)}\n`;
    case 'yaml':
      return goYamlObject(Object.entries(info));
  }
}
