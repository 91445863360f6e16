import { describe, expect, it } from 'vitest';
import { goYamlObject, goYamlString } from '../../../src/cli/go-yaml.ts';

describe('goYamlString: strings as sigs.k8s.io/yaml (go-yaml v2) writes them', () => {
  it.each([
    // plain: YAML reads them back as the same string
    ['clusternet-agent', 'clusternet-agent'],
    ['v0.18.1', 'v0.18.1'],
    ['linux/amd64', 'linux/amd64'],
    ['go1.23.4', 'go1.23.4'],
    ['bbe50d3a9c', 'bbe50d3a9c'],
    ['clean', 'clean'],
    ['1.2.3', '1.2.3'],
    ['a:b', 'a:b'],
    ['a#b', 'a#b'],
    // double-quoted: a plain scalar would be something else
    ['', '""'],
    ['0', '"0"'],
    ['18', '"18"'],
    ['18+', '18+'],
    ['-1', '"-1"'],
    ['0x1F', '"0x1F"'],
    ['1_000', '"1_000"'],
    ['1e3', '"1e3"'],
    ['1.5', '"1.5"'],
    ['.5', '".5"'],
    ['1:20', '"1:20"'],
    ['2025-08-13T10:00:00Z', '"2025-08-13T10:00:00Z"'],
    ['2025-08-13', '"2025-08-13"'],
    ['true', '"true"'],
    ['yes', '"yes"'],
    ['Off', '"Off"'],
    ['n', '"n"'],
    ['null', '"null"'],
    ['~', '"~"'],
    ['.inf', '".inf"'],
    ['<<', '"<<"'],
    // single-quoted: YAML syntax forbids them plain
    ['#x', "'#x'"],
    ['*x', "'*x'"],
    ['a: b', "'a: b'"],
    ['a #b', "'a #b'"],
    [' x', "' x'"],
    ['x ', "'x '"],
    ['- x', "'- x'"],
    ['---', "'---'"],
    ["it's", "it's"],
    ["'q'", "'''q'''"],
  ])('%j → %s', (s, yaml) => {
    expect(goYamlString(s)).toBe(yaml);
  });

  it('writes a flat object with its keys sorted', () => {
    expect(
      goYamlObject([
        ['programName', 'clusternet-agent'],
        ['major', '0'],
        ['gitTreeState', ''],
        ['buildDate', '2025-08-13T10:00:00Z'],
      ]),
    ).toBe('buildDate: "2025-08-13T10:00:00Z"\ngitTreeState: ""\nmajor: "0"\nprogramName: clusternet-agent\n');
  });
});
