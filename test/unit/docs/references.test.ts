// Every "spec §x" the code cites resolves in docs/protocol.md ("predictor spec §x" in
// docs/predictor-protocol.md), and every relative link of the README and docs/ points at a file that exists.

import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, keep));
    else if (keep(path)) out.push(path);
  }
  return out;
}

/** The section numbers a protocol page defines ("## 3." / "### 3.5"), each with the numbered items in it. */
export function sectionsOf(markdown: string): Map<string, Set<string>> {
  const sections = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^#{2,4} (\d+(?:\.\d+)*)\.? /.exec(line);
    if (heading?.[1] !== undefined) {
      current = new Set();
      sections.set(heading[1], current);
      continue;
    }
    const item = /^\s*(\d+)\. /.exec(line);
    if (item?.[1] !== undefined) current?.add(item[1]);
  }
  return sections;
}

/** Whether `§ref` resolves: a section, or a section's numbered item (`5.5.8` = item 8 of 5.5). */
export function resolves(ref: string, sections: Map<string, Set<string>>): boolean {
  if (sections.has(ref)) return true;
  const at = ref.lastIndexOf('.');
  if (at === -1) return false;
  return sections.get(ref.slice(0, at))?.has(ref.slice(at + 1)) ?? false;
}

describe('resolving references', () => {
  const sample = sectionsOf('## 5. Tunnel\n\n### 5.5 Streams\n\n1. one\n2. two\n\n### 5.6 Keepalive\n');
  it.each([
    ['5', true],
    ['5.5', true],
    ['5.5.2', true],
    ['5.5.3', false],
    ['5.6.1', false],
    ['7', false],
  ])('§%s resolves: %s', (ref, ok) => {
    expect(resolves(ref, sample)).toBe(ok);
  });
});

describe('spec references in the code', () => {
  const code = filesUnder(
    root,
    (p) => /\.(ts|js|ya?ml|tpl|json|sh|go)$|Dockerfile$/.test(p) && !p.includes('fixtures'),
  );
  const pages = {
    spec: sectionsOf(readFileSync(join(root, 'docs', 'protocol.md'), 'utf8')),
    'predictor spec': sectionsOf(readFileSync(join(root, 'docs', 'predictor-protocol.md'), 'utf8')),
  };
  const refs: [string, string, string][] = [];
  for (const file of code) {
    if (file === import.meta.filename) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(predictor spec|spec) §(\d+(?:\.\d+)*)/g)) {
      refs.push([relative(root, file), m[1] as keyof typeof pages, m[2] ?? '']);
    }
  }

  it('finds the references it checks', () => {
    expect(refs.length).toBeGreaterThan(50);
  });

  it('every one resolves in docs/', () => {
    const broken = refs.filter(([, page, ref]) => !resolves(ref, pages[page as keyof typeof pages]));
    expect(broken.map(([file, page, ref]) => `${file}: ${page} §${ref}`)).toEqual([]);
  });
});

describe('links of the README and docs/', () => {
  const pages = [join(root, 'README.md'), ...filesUnder(join(root, 'docs'), (p) => p.endsWith('.md'))];
  it.each(pages.map((p) => [relative(root, p), p]))('%s links only to files that exist', (_, page) => {
    // Inline code (regular expressions, shell) is not a link.
    const text = readFileSync(page, 'utf8').replace(/`[^`\n]*`/g, '');
    const missing = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1] ?? '')
      .filter((target) => !/^[a-z]+:/.test(target))
      .filter((target) => !existsSync(join(dirname(page), target)));
    expect(missing).toEqual([]);
  });
});
