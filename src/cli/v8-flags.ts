// V8 flags the agent sets on itself once its modules have loaded, from CLUSTERNET_AGENT_V8_FLAGS (the
// image sets it; docs/memory.md, step 8). Node refuses these flags in NODE_OPTIONS, and given on the
// command line they also shape the loading of the modules: --heap-growing-percent=50 there made the first
// transition 1.2 times later (more collections while the heap grows from nothing). Set afterwards, V8
// reads them at its next collections: the old generation then grows to 1.5 times its live size instead
// of several times it, so a big list's garbage does not leave V8's page pool holding 100 MiB.
// Only flags that V8 reads again at run time are accepted; anything else is a start-up error.

import { setFlagsFromString } from 'node:v8';

export const v8FlagsEnv = 'CLUSTERNET_AGENT_V8_FLAGS';

/** The flags accepted, each with the values it takes. */
const accepted: Readonly<Record<string, (value: string) => boolean>> = {
  // V8's heap growing factor, 1 + N/100 (read at every collection's limit).
  '--heap-growing-percent': (v) => /^\d{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 400,
};

export type V8Flags =
  { readonly ok: true; readonly flags: readonly string[] } | { readonly ok: false; readonly error: string };

/** The flags of `value` (space-separated `--name=value`), or why they are refused. */
export function parseV8Flags(value: string | undefined): V8Flags {
  const flags = (value ?? '').split(/\s+/).filter((f) => f !== '');
  for (const flag of flags) {
    const [name = '', v] = flag.split('=', 2);
    const check = accepted[name];
    if (check === undefined)
      return {
        ok: false,
        error: `${v8FlagsEnv}: ${JSON.stringify(name)} is not a flag the agent sets at run time (accepted: ${Object.keys(accepted).join(', ')})`,
      };
    if (v === undefined || !check(v))
      return { ok: false, error: `${v8FlagsEnv}: ${JSON.stringify(flag)} has no valid value (e.g. ${name}=50)` };
  }
  return { ok: true, flags };
}

/** Sets the flags on this process's V8. */
export function applyV8Flags(flags: readonly string[]): void {
  for (const flag of flags) setFlagsFromString(flag);
}
