// The configuration the agent ships with (every flag at its default), so machine tests build their
// timing with the same builders and numbers as src/ does, not with private copies of the numbers.

import { parseCommandLine, type AgentConfig } from '../../../src/config/config.ts';

export function shippedConfig(): AgentConfig {
  const inv = parseCommandLine([
    '--cluster-reg-parent-url=https://parent:6443',
    '--cluster-reg-token=abcdef.0123456789abcdef',
  ]);
  if (inv.kind !== 'run') throw new Error(`the defaults do not parse: ${JSON.stringify(inv)}`);
  return inv.config;
}
