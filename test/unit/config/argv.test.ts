import { describe, expect, it } from 'vitest';
import { flagValue, parseArgv } from '../../../src/config/argv.ts';
import { flagSpecs } from '../../../src/config/flags.ts';

const given = (...argv: string[]) => Object.fromEntries(parseArgv(argv).given);

describe('parseArgv (pflag semantics)', () => {
  it.each([
    [['--cluster-reg-name=a'], { 'cluster-reg-name': 'a' }],
    [['--cluster-reg-name', 'a'], { 'cluster-reg-name': 'a' }],
    [['--cluster-reg-name='], { 'cluster-reg-name': '' }],
    [['--leader-elect=false'], { 'leader-elect': false }],
    [['--leader-elect'], { 'leader-elect': true }],
    [['--use-metrics-server', '--leader-elect=0'], { 'use-metrics-server': true, 'leader-elect': false }],
    [['-v', '4'], { v: 4 }],
    [['-v=4'], { v: 4 }],
    [['-v4'], { v: 4 }],
    [['--v=4'], { v: 4 }],
    [['-h'], { help: true }],
    [['--version'], { version: 'short' }],
    [['--version=json'], { version: 'json' }],
    [['--cluster-status-update-frequency=1m30s'], { 'cluster-status-update-frequency': 90_000 }],
    [['--kube-api-qps=12.5', '--kube-api-burst', '30'], { 'kube-api-qps': 12.5, 'kube-api-burst': 30 }],
    [['--bind-address=::1'], { 'bind-address': '::1' }],
    [['--labels-aggregate-prefix=a/', '--labels-aggregate-prefix', 'b/'], { 'labels-aggregate-prefix': ['a/', 'b/'] }],
    [['--tls-cipher-suites=A,B', '--tls-cipher-suites=C'], { 'tls-cipher-suites': ['A', 'B', 'C'] }],
    [['--cluster-reg-name=a', '--cluster-reg-name=b'], { 'cluster-reg-name': 'b' }],
    [['--cluster_reg_name=a'], { 'cluster-reg-name': 'a' }],
    [['--log_dir=/tmp', '--logtostderr=false'], { 'log-dir': '/tmp', logtostderr: false }],
  ])('%j → %j', (argv, expected) => {
    expect(parseArgv(argv).errors).toEqual([]);
    expect(given(...argv)).toEqual(expected);
  });

  it.each([
    [['--nope'], 'unknown flag: --nope'],
    [['-x'], 'unknown flag: -x'],
    [['positional'], 'unknown command "positional" for "clusternet-agent"'],
    [['--', '--cluster-reg-name=a'], 'unknown command "--cluster-reg-name=a" for "clusternet-agent"'],
    [['--cluster-reg-name'], 'flag needs an argument: --cluster-reg-name'],
    [['--leader-elect=maybe'], 'invalid argument "maybe" for "--leader-elect" flag: must be true or false'],
    [['--secure-port=1.5'], 'invalid argument "1.5" for "--secure-port" flag: must be an integer'],
    [['--kube-api-qps=fast'], 'invalid argument "fast" for "--kube-api-qps" flag: must be a number'],
    [
      ['--cluster-status-collect-frequency=20'],
      'invalid argument "20" for "--cluster-status-collect-frequency" flag: time: missing unit in duration "20"',
    ],
    [['--bind-address=localhost'], 'invalid argument "localhost" for "--bind-address" flag: must be an IP address'],
  ])('%j → %s', (argv, message) => {
    expect(parseArgv(argv).errors).toEqual([message]);
  });

  it('does not consume the next argument for a bool flag', () => {
    expect(parseArgv(['--leader-elect', 'false']).errors).toEqual(['unknown command "false" for "clusternet-agent"']);
  });

  it('falls back to each flag’s default, durations in ms', () => {
    const parsed = parseArgv([]);
    expect(flagValue(parsed, 'cluster-status-update-frequency')).toBe(180_000);
    expect(flagValue(parsed, 'leader-elect-resource-name')).toBe('clusternet-agent');
    expect(flagValue(parsed, 'labels-aggregate-prefix')).toEqual(['node.clusternet.io/']);
    expect(flagValue(parsed, 'v')).toBe(2);
  });

  it('has one spec per name and per shorthand', () => {
    const names = flagSpecs.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    const shorts = flagSpecs.flatMap((s) => (s.shorthand === undefined ? [] : [s.shorthand]));
    expect(new Set(shorts).size).toBe(shorts.length);
  });
});
