// What `--help` and `--version` print.

import type { VersionFormat } from './command-line.ts';
import type { VersionInfo } from '../version.ts';

export const usage = `clusternet-agent runs in a child cluster: it registers the cluster with a parent cluster running
Clusternet, reports its status, keeps a websocket tunnel to the parent and applies the workloads the
parent publishes.

Usage:
  clusternet-agent [flags]

Global flags:
  -h, --help                   help for clusternet-agent
      --version version[=short] Print version information and quit; --version=json|yaml for all fields
`;

export function formatVersion(info: VersionInfo, format: VersionFormat): string {
  switch (format) {
    case 'short':
      return `${info.programName} version: ${info.gitVersion}\n`;
    case 'json':
      return `${JSON.stringify(info, null, 2)}\n`;
    case 'yaml':
      return Object.entries(info)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
        .join('');
  }
}
