// Every Go flag that was accepted and silently ignored (issue 15 §5): honoured, with what it does here,
// or warned about once at start-up. Tables per flag.

import { describe, expect, it } from 'vitest';
import { parseCommandLine, parseVmodule, type AgentConfig } from '../../../src/config/config.ts';
import { flagSpecs } from '../../../src/config/flags.ts';
import { cipherList, parseSniCertKey, serverNameMatches, tls13Suites } from '../../../src/config/tls.ts';

const required = ['--cluster-reg-parent-url=https://10.0.0.1:6443', '--cluster-reg-token=abcdef.0123456789abcdef'];

function run(...extra: string[]): { config: AgentConfig; warnings: readonly string[] } {
  const inv = parseCommandLine([...required, ...extra]);
  if (inv.kind !== 'run') throw new Error(`expected a config, got ${JSON.stringify(inv)}`);
  return inv;
}
function errors(...extra: string[]): readonly string[] {
  const inv = parseCommandLine([...required, ...extra]);
  return inv.kind === 'invalid' ? inv.errors : [];
}

describe('--tls-cipher-suites: Go names as OpenSSL names, unknown ones refused', () => {
  it.each([
    ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
    ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
    ['TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-RSA-CHACHA20-POLY1305'],
    ['TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'],
    ['TLS_RSA_WITH_AES_128_CBC_SHA', 'AES128-SHA'],
  ])('%s → %s, then TLS 1.3’s suites (always on, as in Go)', (go, openssl) => {
    expect(cipherList([go])).toEqual({ ciphers: [openssl, ...tls13Suites].join(':'), errors: [] });
    expect(run(`--tls-cipher-suites=${go}`).config.serving.cipherSuites).toBe([openssl, ...tls13Suites].join(':'));
  });

  it('keeps the order given, and accepts TLS 1.3 names (which Go ignores)', () => {
    const list = cipherList([
      'TLS_AES_128_GCM_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      'TLS_RSA_WITH_AES_128_GCM_SHA256',
    ]);
    expect(list.ciphers).toBe(['ECDHE-RSA-AES256-GCM-SHA384', 'AES128-GCM-SHA256', ...tls13Suites].join(':'));
  });

  it.each([
    ['a name Go does not know', 'TLS_BOGUS', /unknown cipher suite "TLS_BOGUS"/],
    ['an OpenSSL name (the flag takes Go names)', 'ECDHE-RSA-AES128-GCM-SHA256', /unknown cipher suite/],
    ['RC4, which this OpenSSL does not provide', 'TLS_RSA_WITH_RC4_128_SHA', /not available in this build of OpenSSL/],
  ])('refuses %s', (_what, name, message) => {
    expect(errors(`--tls-cipher-suites=${name}`)).toEqual([expect.stringMatching(message)]);
  });

  it('empty: Node’s defaults', () => {
    expect(run().config.serving.cipherSuites).toBeUndefined();
  });
});

describe('--tls-sni-cert-key', () => {
  it.each([
    ['/c.crt,/c.key', { certFile: '/c.crt', keyFile: '/c.key', names: [] }],
    [
      '/c.crt,/c.key:a.example,*.b.example',
      { certFile: '/c.crt', keyFile: '/c.key', names: ['a.example', '*.b.example'] },
    ],
  ])('%s', (text, expected) => {
    expect(parseSniCertKey(text)).toEqual(expected);
  });

  it('is repeatable, and refuses a value without both files', () => {
    expect(
      run('--tls-sni-cert-key=/a,/b', '--tls-sni-cert-key=/c,/d:x.example').config.serving.sniCertKeys,
    ).toHaveLength(2);
    expect(errors('--tls-sni-cert-key=/only-one')).toEqual([expect.stringContaining('expected certfile,keyfile')]);
  });

  it.each([
    ['a.example', 'a.example', true],
    ['*.b.example', 'x.b.example', true],
    ['*.b.example', 'b.example', false],
    ['*.b.example', 'y.x.b.example', false],
    ['A.Example', 'a.example', true],
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(serverNameMatches(pattern, name)).toBe(expected);
  });
});

describe('flags honoured', () => {
  it.each([
    ['--permit-port-sharing', (c: AgentConfig) => c.serving.reusePort],
    ['--profiling=false', (c: AgentConfig) => !c.profiling.enabled],
    [
      '--disabled-metrics=process_cpu_seconds_total,nodejs_heap_size_total_bytes',
      (c: AgentConfig) => c.metrics.disabled.join() === 'process_cpu_seconds_total,nodejs_heap_size_total_bytes',
    ],
    ['--log-json-split-stream', (c: AgentConfig) => c.logging.splitStream],
    ['--vmodule=tunnel=4', (c: AgentConfig) => c.logging.vmodule[0]?.verbosity === 4],
  ])('%s, with no warning', (flag, holds) => {
    const { config, warnings } = run(flag);
    expect(holds(config)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('--disable-http2-serving (new in the latest Go agent) is accepted, where it was an unknown flag', () => {
    // The health server speaks HTTP/1.1 only, so it always holds: nothing to warn about.
    expect(errors('--disable-http2-serving')).toEqual([]);
    expect(run('--disable-http2-serving=true').warnings).toEqual([]);
  });

  it('profiling is on by default, as in the Go agent', () => {
    expect(run().config.profiling.enabled).toBe(true);
  });

  it('the split stream of the format in use: text’s flag for text, JSON’s for JSON', () => {
    expect(run('--log-text-split-stream').config.logging.splitStream).toBe(false);
    expect(run('--logging-format=text', '--log-text-split-stream').config.logging.splitStream).toBe(true);
  });

  it.each([
    [
      'tunnel=4,reg*=6',
      [
        { pattern: 'tunnel', verbosity: 4 },
        { pattern: 'reg*', verbosity: 6 },
      ],
      [],
    ],
    ['tunnel', [], ['--vmodule: "tunnel" is not pattern=N']],
    ['tunnel=x', [], ['--vmodule: "tunnel=x" is not pattern=N']],
  ])('--vmodule=%s', (text, settings, errs) => {
    expect(parseVmodule(text)).toEqual({ settings, errors: errs });
  });
});

describe('flags accepted without meaning here: one warning each', () => {
  it.each([
    ['--permit-address-sharing', /--permit-address-sharing has no effect/],
    ['--http2-max-streams-per-connection=100', /--http2-max-streams-per-connection has no effect: .*HTTP\/1.1/],
    ['--contention-profiling', /--contention-profiling has no effect/],
    ['--show-hidden-metrics-for-version=1.30', /--show-hidden-metrics-for-version has no effect/],
    ['--allow-metric-labels=m,l=v', /--allow-metric-labels .* have no effect/],
    ['--allow-metric-labels-manifest=/m.yaml', /--allow-metric-labels .* have no effect/],
    ['--log-flush-frequency=2s', /--log-flush-frequency has no effect/],
    ['--log-json-info-buffer-size=1Ki', /--log-json-info-buffer-size has no effect/],
    ['--log-text-info-buffer-size=1Ki', /--log-text-info-buffer-size has no effect/],
    ['--logtostderr=false', /--logtostderr has no effect/],
    ['--log_dir=/l', /--log-dir has no effect/],
  ])('%s', (flag, message) => {
    const { warnings } = run(flag);
    expect(warnings).toEqual([expect.stringMatching(message)]);
  });

  it('nothing is said for flags left at their defaults', () => {
    expect(run().warnings).toEqual([]);
    expect(run('--http2-max-streams-per-connection=0', '--contention-profiling=false').warnings).toEqual([]);
  });

  it('every flag of the table is honoured, warned about, or one of this agent’s own', () => {
    // The legacy klog flags are all marked ignored (each warned about when given).
    expect(flagSpecs.filter((s) => s.section.startsWith('Legacy')).every((s) => s.ignored === true)).toBe(true);
    expect(flagSpecs.map((s) => s.name)).toContain('disable-http2-serving');
  });
});
