import { describe, expect, it } from 'vitest';
import { parseV8Flags } from '../../../src/cli/v8-flags.ts';

describe('CLUSTERNET_AGENT_V8_FLAGS', () => {
  it('takes the heap growing factor, and nothing when unset or empty', () => {
    expect(parseV8Flags(undefined)).toEqual({ ok: true, flags: [] });
    expect(parseV8Flags('  ')).toEqual({ ok: true, flags: [] });
    expect(parseV8Flags(' --heap-growing-percent=50 ')).toEqual({ ok: true, flags: ['--heap-growing-percent=50'] });
  });

  it.each([
    [
      '--optimize-for-size',
      /"--optimize-for-size" is not a flag the agent sets at run time \(accepted: --heap-growing-percent\)/,
    ],
    ['--heap-growing-percent', /"--heap-growing-percent" has no valid value \(e\.g\. --heap-growing-percent=50\)/],
    ['--heap-growing-percent=0', /has no valid value/],
    ['--heap-growing-percent=abc', /has no valid value/],
    ['--heap-growing-percent=50 --max-old-space-size=100', /"--max-old-space-size" is not a flag/],
  ])('refuses %s with one line that says why', (value, error) => {
    const got = parseV8Flags(value);
    expect(got.ok).toBe(false);
    if (!got.ok) {
      expect(got.error).toMatch(/^CLUSTERNET_AGENT_V8_FLAGS: /);
      expect(got.error).toMatch(error);
      expect(got.error).not.toContain('\n');
    }
  });
});
