// The one rule for showing URLs: their userinfo (`https://admin:pw@host`) is replaced by `<redacted>`
// wherever a URL is logged or shown: the start-up flags line, --help, configuration errors, every log
// line (the root logger applies it to each message and field), /readyz. Applied to free text, so a URL
// inside an error message is covered too.

/**
 * `scheme://` then the authority up to its last `@` (as URL parsers read it; greedy, so a password
 * with an unencoded `/` or `@` is covered too, at worst hiding a little more than the userinfo).
 */
const userinfo = /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s"'<>`]*@/g;

export const redactedUserinfo = '<redacted>';

/** `text` with the userinfo of every URL in it replaced: `https://<redacted>@host:6443/path`. */
export function redactUrls(text: string): string {
  return text.includes('@') ? text.replace(userinfo, `$1${redactedUserinfo}@`) : text;
}

/** How deep `redactUrlsIn` looks into log fields; deeper values are logged as they are. */
const maxDepth = 6;

/**
 * A log argument with `redactUrls` applied to every string in it: plain objects and arrays are copied
 * (never changed in place), an Error becomes what pino's serializer would show of it.
 */
export function redactUrlsIn(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrls(value);
  if (depth >= maxDepth || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => redactUrlsIn(v, depth + 1));
  if (value instanceof Error) {
    const copy: Record<string, unknown> = { type: value.name, message: redactUrls(value.message) };
    if (value.stack !== undefined) copy.stack = redactUrls(value.stack);
    for (const [k, v] of Object.entries(value)) copy[k] = redactUrlsIn(v, depth + 1);
    return copy;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactUrlsIn(v, depth + 1)]));
}
