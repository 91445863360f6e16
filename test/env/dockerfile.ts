// docker/Dockerfile read as data: its instructions by stage (what test/unit/docker checks), and the
// environment the image gives the agent's process (NODE_OPTIONS, the agent's V8 flags, glibc's arenas),
// so that tests measuring the agent's memory run it as the image does.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const dockerfilePath = fileURLToPath(new URL('../../docker/Dockerfile', import.meta.url));

export interface Instruction {
  readonly op: string;
  readonly args: string;
}
export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions (continuation lines joined, comments dropped), grouped by stage; the ARGs before the first FROM. */
export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/);
    const argText = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const [image = '', as, name] = rest;
      const from = image.replace(/\$\{(\w+)\}/g, (_w, v: string) => args.get(v) ?? '');
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && op.toUpperCase() === 'ARG') {
      const [k = '', v = ''] = argText.split('=');
      args.set(k, v);
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args: argText });
    }
  }
  return { args, stages };
}

/** The `ENV` variables of a stage (`K=V` and `K="V W"` forms), in order. */
export function envOf(stage: Stage | undefined): Map<string, string> {
  const env = new Map<string, string>();
  for (const i of stage?.instructions ?? []) {
    if (i.op !== 'ENV') continue;
    for (const m of i.args.matchAll(/(\w+)=(?:"([^"]*)"|(\S*))/g)) env.set(m[1] ?? '', m[2] ?? m[3] ?? '');
  }
  return env;
}

/**
 * The runtime settings the image gives the agent's process: the variables that shape its memory, taken
 * from the final stage's ENV (build-time stamps such as the git commit are left out).
 */
export function imageRuntimeEnv(): Record<string, string> {
  const env = envOf(parseDockerfile(readFileSync(dockerfilePath, 'utf8')).stages.at(-1));
  const out: Record<string, string> = {};
  for (const k of ['NODE_OPTIONS', 'CLUSTERNET_AGENT_V8_FLAGS', 'MALLOC_ARENA_MAX']) {
    const v = env.get(k);
    if (v === undefined) throw new Error(`docker/Dockerfile: the final stage sets no ${k}`);
    out[k] = v;
  }
  return out;
}
