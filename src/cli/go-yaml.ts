// Strings as sigs.k8s.io/yaml writes them (it converts JSON to YAML with a go-yaml v2 encoder): plain
// where YAML reads them back as the same string, double-quoted where a plain scalar would read as
// something else (a bool, a number, null, a timestamp), single-quoted where YAML syntax forbids a plain
// one. Enough of go-yaml v2's rules for the single-line strings the agent prints (`--version=yaml`).

/** Plain scalars go-yaml v2 resolves to a bool, null, a special float or a merge key. */
const resolvedWords = new Set([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'],
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'],
  ...['', '~', 'null', 'Null', 'NULL'],
  ...['.nan', '.NaN', '.NAN', '.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF'],
  '<<',
]);

const goInt = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)$/;
const yamlStyleFloat = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const base60Float = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const timestamp =
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{1,2}:[0-9]{2})?)?$/;

/** Whether go-yaml v2 would read `s`, written plain, as something other than that string. */
function resolvesToOther(s: string): boolean {
  if (resolvedWords.has(s)) return true;
  const first = s[0] ?? '';
  if (first === '.') return yamlStyleFloat.test(s);
  if (!/[-+0-9]/.test(first)) return false;
  const plain = s.replaceAll('_', '');
  return timestamp.test(s) || goInt.test(plain) || yamlStyleFloat.test(plain) || base60Float.test(s);
}

/** Whether the YAML emitter allows `s` as a plain scalar in block context. */
function plainAllowed(s: string): boolean {
  if (s === '' || /^(?:---|\.\.\.)/.test(s)) return false;
  if (/^[#,[\]{}&*!|>'"%@`]/.test(s)) return false;
  if (/^[-?:](?:\s|$)/.test(s)) return false;
  if (/:(?:\s|$)|\s#/.test(s)) return false;
  if (/^\s|\s$/.test(s)) return false;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is checked for
  return !/[\x00-\x1f\x7f]/.test(s);
}

export function goYamlString(s: string): string {
  if (resolvesToOther(s)) return JSON.stringify(s);
  if (plainAllowed(s)) return s;
  // eslint-disable-next-line no-control-regex -- as above
  return /[\x00-\x1f\x7f]/.test(s) ? JSON.stringify(s) : `'${s.replaceAll("'", "''")}'`;
}

/** A flat object of strings (its entries) as sigs.k8s.io/yaml marshals it: keys sorted, one per line. */
export function goYamlObject(entries: readonly (readonly [string, string])[]): string {
  return [...entries]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${goYamlString(k)}: ${goYamlString(v)}\n`)
    .join('');
}
