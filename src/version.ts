// The agent's build version. Its gitVersion is what `--version` prints and, like the Go agent's
// client-go gitVersion, what the heartbeat will report as `status.agentVersion`.

import packageJson from '../package.json' with { type: 'json' };

export interface VersionInfo {
  readonly programName: 'clusternet-agent';
  readonly major: string;
  readonly minor: string;
  readonly gitVersion: string;
  readonly gitCommit: string;
  readonly gitTreeState: string;
  readonly buildDate: string;
  /** The Go agent reports its Go toolchain here; ours reports the Node.js runtime. */
  readonly goVersion: string;
  readonly compiler: string;
  readonly platform: string;
}

export function versionInfo(env: Readonly<Record<string, string | undefined>> = {}): VersionInfo {
  const [major = '0', minor = '0'] = packageJson.version.split('.');
  return {
    programName: 'clusternet-agent',
    major,
    minor,
    gitVersion: `v${packageJson.version}`,
    gitCommit: env.CLUSTERNET_AGENT_GIT_COMMIT ?? '',
    gitTreeState: env.CLUSTERNET_AGENT_GIT_TREE_STATE ?? '',
    buildDate: env.CLUSTERNET_AGENT_BUILD_DATE ?? '1970-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'node',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}
