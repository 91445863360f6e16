// What src/ reads of the machines — the root's tags, the catalogue's report types, the state names the
// transition log treats as routine, machine ids — must exist in the machines: renaming a tag, a state
// or a report in machines/ without src/ fails here (it compiles, and would silently break readiness,
// metrics or the log).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { agentMachine, agentTags } from '../../../machines/agent/machine.ts';
import { deployerMachine, deployerStartupStates } from '../../../machines/deployer/machine.ts';
import { childReportTypes } from '../../../machines/events.ts';
import { heartbeatMachine, routineHeartbeatStates } from '../../../machines/heartbeat/machine.ts';
import { leadershipMachine, routineLeadershipStates } from '../../../machines/leadership/machine.ts';
import { mcsMachine, syncingTag } from '../../../machines/mcs/machine.ts';
import { predictorMachine } from '../../../machines/predictor/machine.ts';
import { registrationMachine, routineRegistrationStates } from '../../../machines/registration/machine.ts';
import { routineSocketStates, socketMachine } from '../../../machines/socket/machine.ts';

const root = join(import.meta.dirname, '../../..');

const nodesOf = (node: AnyStateNode): AnyStateNode[] => [
  node,
  ...Object.values(node.states as Record<string, AnyStateNode>).flatMap(nodesOf),
];
const tagsOf = (m: AnyStateMachine): Set<string> => new Set(nodesOf(m.root).flatMap((n) => [...n.tags]));
/** Every state as the transition log names it within its region: `a.b.c` and each suffix path of a region. */
const statesOf = (m: AnyStateMachine): Set<string> => {
  const out = new Set<string>();
  for (const n of nodesOf(m.root)) {
    const path = n.path;
    for (let i = 0; i < path.length; i++) out.add(path.slice(i).join('.'));
  }
  return out;
};
const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
const src = sourceFiles(join(root, 'src')).map((p) => ({ path: p, text: readFileSync(p, 'utf8') }));
const machinesText = sourceFiles(join(root, 'machines'))
  .map((p) => readFileSync(p, 'utf8'))
  .join('\n');
const matches = (re: RegExp, text: string): string[] => [...text.matchAll(re)].map((m) => m[1] ?? '');

const machines = [
  agentMachine,
  leadershipMachine,
  registrationMachine,
  heartbeatMachine,
  socketMachine,
  deployerMachine,
  predictorMachine,
  mcsMachine,
] as AnyStateMachine[];

describe('names src/ reads of the machines', () => {
  it('every root tag src/ reads is a tag of the root machine', () => {
    const tags = tagsOf(agentMachine as AnyStateMachine);
    expect(tags.size).toBeGreaterThan(0);
    for (const t of agentTags) expect(tags, `tag ${t}`).toContain(t);
    // Tags read with hasTag anywhere in src/ exist in some machine.
    const all = new Set(machines.flatMap((m) => [...tagsOf(m)]));
    const read = src.flatMap((f) => matches(/hasTag\?*\.?\(\s*'([^']+)'/g, f.text));
    expect(read.length).toBeGreaterThan(0);
    for (const t of read) expect(all, `tag ${t} read in src/`).toContain(t);
    expect(tagsOf(mcsMachine as AnyStateMachine)).toContain(syncingTag);
  });

  it('every report type src/ reads is in the catalogue, and every one of the catalogue is sent by a machine', () => {
    const catalogue = new Set<string>(childReportTypes);
    const readers = src.filter((f) => f.text.includes('ChildReport'));
    const read = readers.flatMap((f) =>
      matches(/(?:type === |case )'([a-z]+\.[A-Za-z.]+)'/g, f.text).filter((t) => /^[a-z]+\.[a-z]/i.test(t)),
    );
    expect(read.length).toBeGreaterThan(5);
    for (const t of read) expect(catalogue, `report ${t} read in src/`).toContain(t);
    for (const t of catalogue) expect(machinesText, `report ${t} sent by a machine`).toContain(`type: '${t}'`);
  });

  it('the routine states the transition log knows exist in their machines', () => {
    const routine: readonly [AnyStateMachine, readonly (readonly string[])[]][] = [
      [heartbeatMachine as AnyStateMachine, [routineHeartbeatStates]],
      [leadershipMachine as AnyStateMachine, routineLeadershipStates],
      [registrationMachine as AnyStateMachine, routineRegistrationStates],
      [socketMachine as AnyStateMachine, [routineSocketStates]],
    ];
    for (const [machine, loops] of routine) {
      const states = statesOf(machine);
      for (const s of loops.flat()) expect(states, `${machine.id} state ${s}`).toContain(s);
    }
    const deployer = statesOf(deployerMachine as AnyStateMachine);
    for (const s of deployerStartupStates) expect(deployer, `deployer state ${s}`).toContain(s);
  });

  it('every machine id src/ names in a map of machines exists', () => {
    const ids = new Set(machines.map((m) => m.id));
    const named = src.flatMap((f) =>
      matches(/\['([a-z]+)', \[?(?:new Set\(|routine[A-Za-z]*States|deployerStartupStates)/g, f.text),
    );
    expect(named.length).toBeGreaterThan(0);
    for (const id of named) expect(ids, `machine ${id}`).toContain(id);
  });

  it('no state-name string of a machine is compared outside machines/ (src/ reads tags and reports)', () => {
    // `.matches(`, `to.startsWith(` and `to ===` on states were how src/ read state names.
    for (const f of src) {
      expect(f.text, f.path).not.toMatch(/\.matches\(\{?\s*'?[a-z]/);
      expect(f.text, f.path).not.toMatch(/\b(?:to|from)\.startsWith\('/);
    }
  });
});
