// An agent build a bench runs, as given on its command line: a main.js, then node flags for that build
// only (`'dist/src/main.js --optimize-for-size'`).

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export interface EntryPoint {
  /** As given, to name the build in the bench's output. */
  readonly label: string;
  readonly main: string;
  readonly nodeFlags: readonly string[];
}

export function entryPoint(spec: string): EntryPoint {
  const [main = '', ...nodeFlags] = spec.split(/\s+/).filter(Boolean);
  return { label: spec.trim(), main: resolve(main), nodeFlags };
}

/** Ends the bench with one line if a build's main.js is missing. */
export function requireBuilt(entries: readonly EntryPoint[], hint: string): void {
  for (const { main } of entries) {
    if (existsSync(main)) continue;
    process.stderr.write(`${main} does not exist: ${hint}\n`);
    process.exit(2);
  }
}
