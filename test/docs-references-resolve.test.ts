/**
 * Outcome: every reference the repository's documentation and source comments
 * make to a file of the repository resolves. Checked: relative Markdown links
 * and backticked repository paths (`src/meter/spool.ts`, `bench/results/…/x.md`)
 * in README.md, docs/*.md, bench/README.md, helm/argus-sidecar/README.md and
 * src/**\/README.md, and repository paths in comments of src/
 * TypeScript. A path with a placeholder (`<date>-<short sha>`, `NNN_name`,
 * `t<threadId>`, `*`) is a pattern, not a file, and is skipped. The failure
 * lists every broken reference with its file and line.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Top-level entries a repository path starts with. */
const TOP = ['src', 'test', 'bench', 'docs', 'config', 'helm', 'scripts', '.ci', 'Dockerfile', 'README.md', 'package.json', 'tsconfig.json'];
const PATH = new RegExp(`(?<![\\w./-])((?:${TOP.map((t) => t.replace('.', '\\.')).join('|')})(?:/[\\w.@<>*…-]+)*/?)`, 'g');

interface Ref {
  file: string;
  line: number;
  target: string;
  base: string;
}

function walk(dir: string, keep: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out;
}

function isPattern(p: string): boolean {
  return /[<>*…]|\bNNN\b|\bt<|\{|\$/.test(p) || /\/t$/.test(p);
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

function markdownRefs(file: string): Ref[] {
  const text = readFileSync(file, 'utf8');
  const refs: Ref[] = [];
  // Relative links: [text](target), resolved against the Markdown file's folder.
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!.split('#')[0]!;
    if (!target || /^[a-z]+:/i.test(target)) continue;
    refs.push({ file, line: lineOf(text, m.index!), target, base: dirname(file) });
  }
  // Backticked repository paths, resolved against the repository root.
  for (const m of text.matchAll(/`([^`\n]+)`/g)) {
    for (const p of m[1]!.matchAll(PATH)) {
      refs.push({ file, line: lineOf(text, m.index!), target: p[1]!, base: ROOT });
    }
  }
  return refs;
}

function commentRefs(file: string): Ref[] {
  const text = readFileSync(file, 'utf8');
  const refs: Ref[] = [];
  for (const c of text.matchAll(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g)) {
    for (const p of c[0].matchAll(PATH)) {
      const at = c.index! + p.index!;
      refs.push({ file, line: lineOf(text, at), target: p[1]!, base: ROOT });
    }
  }
  return refs;
}

function resolves(ref: Ref): boolean {
  let target = ref.target.replace(/[.,:;)]+$/, '');
  if (isPattern(target)) return true;
  if (target.endsWith('/')) target = target.slice(0, -1);
  const abs = resolve(ref.base, target);
  if (existsSync(abs)) return true;
  // Source comments name compiled siblings (`./x.js`) or TypeScript files by their .js name.
  if (abs.endsWith('.js') && existsSync(abs.replace(/\.js$/, '.ts'))) return true;
  return false;
}

const markdownFiles = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
  join(ROOT, 'bench/README.md'),
  join(ROOT, 'helm/argus-sidecar/README.md'),
  ...walk(join(ROOT, 'src'), (p) => p.endsWith('README.md')),
];
const sourceFiles = walk(join(ROOT, 'src'), (p) => p.endsWith('.ts'));

function report(refs: Ref[]): string[] {
  return refs.filter((r) => !resolves(r)).map((r) => `${relative(ROOT, r.file)}:${r.line}: ${r.target}`);
}

describe('references in docs and source comments resolve to files in the repository', () => {
  it('finds the references it checks', () => {
    const md = markdownFiles.flatMap(markdownRefs);
    const src = sourceFiles.flatMap(commentRefs);
    assert.ok(
      md.some((r) => r.target === 'src/pipeline.ts'),
      'README/docs name src/pipeline.ts',
    );
    assert.ok(src.length > 20, `found ${src.length} paths in source comments`);
    assert.ok(!resolves({ file: 'x', line: 1, target: 'src/no-such-file.ts', base: ROOT }), 'a missing path is caught');
  });

  it('every link and backticked path in README.md, docs/, bench/, helm/ and src/ READMEs exists', () => {
    const broken = report(markdownFiles.flatMap(markdownRefs));
    assert.deepEqual(broken, [], `broken references in documentation (${broken.length}):\n  ${broken.join('\n  ')}`);
  });

  it('every repository path in a comment under src/ exists', () => {
    const broken = report(sourceFiles.flatMap(commentRefs));
    assert.deepEqual(broken, [], `broken references in source comments (${broken.length}):\n  ${broken.join('\n  ')}`);
  });
});
