// Strings as sigs.k8s.io/yaml writes them (it converts JSON to YAML with a go-yaml v2 encoder): plain
// where YAML reads them back as the same string, double-quoted where a plain scalar would read as
// something else (a bool, a number, null, a timestamp), single-quoted where YAML syntax forbids a plain
// one. go-yaml v2 resolves plain scalars by YAML 1.1's rules (`yes`, `on`, `1:20`, `1_000`); the `yaml`
// library both decides that (its YAML 1.1 schema) and writes the scalar (its emitter), for the single-line
// strings the agent prints (`--version=yaml`).

import { isScalar, parseDocument, stringify } from 'yaml';

/**
 * Whether YAML 1.1 (go-yaml v2's resolver) would read `s`, written plain, as a scalar of another type
 * (a bool, a number, null, a timestamp); empty and the merge key `<<` too, as go-yaml has it.
 */
function resolvesToOther(s: string): boolean {
  if (s === '' || s === '<<') return true;
  const doc = parseDocument(s, { version: '1.1', merge: false });
  // The whole text must be the scalar (`---` is an empty document, not a null written `---`).
  return (
    doc.errors.length === 0 &&
    isScalar(doc.contents) &&
    doc.contents.source === s &&
    typeof doc.contents.value !== 'string'
  );
}

export function goYamlString(s: string): string {
  if (resolvesToOther(s)) return JSON.stringify(s);
  // Plain where the emitter writes it plain; else single-quoted, as go-yaml (which double-quotes only
  // what cannot be printed: control characters).
  const out = stringify(s, { version: '1.1', lineWidth: 0 }).replace(/\n$/, '');
  if (out === s) return s;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is checked for
  return /[\x00-\x1f\x7f]/.test(s) ? JSON.stringify(s) : `'${s.replaceAll("'", "''")}'`;
}

/** A flat object of strings (its entries) as sigs.k8s.io/yaml marshals it: keys sorted, one per line. */
export function goYamlObject(entries: readonly (readonly [string, string])[]): string {
  return [...entries]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${goYamlString(k)}: ${goYamlString(v)}\n`)
    .join('');
}
