/**
 * The latest result of every benchmark: scans bench/results/<YYYY-MM-DD>-<sha>/ (the
 * folders bench/results-dir.ts writes) and prints, per result name, the newest folder
 * holding it, its date, its sha and its headline (the title and the first note, or the
 * first table row when there is no note).
 *
 * Usage: npm run bench:latest   (node dist/bench/latest.js [RESULTS_DIR])
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS } from './results-dir.js';

const FOLDER = /^(\d{4}-\d{2}-\d{2})-([0-9a-f]{4,40}(?:-dirty)?)$/;
const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/;

export interface LatestResult {
  readonly name: string;
  readonly folder: string;
  /** When it ran: the timestamp inside the file, else the folder's date. */
  readonly date: string;
  readonly sha: string;
  /** Files of this result in that folder (e.g. `p99.json`, `p99.md`). */
  readonly files: string[];
  readonly headline: string[];
}

/** When a result ran: the first ISO timestamp near the top of its file (the stamp), else the folder's day. */
function runDate(text: string, day: string): string {
  return ISO.exec(text.slice(0, 2000))?.[0] ?? `${day}T00:00:00.000Z`;
}

/** Title and first note of a Markdown result (or its first table row when it has no note). */
function headline(md: string): string[] {
  const lines = md.split('\n');
  const title = lines.find((l) => l.startsWith('# '))?.slice(2);
  const note = lines.find((l) => l.startsWith('- ')) ?? lines.find((l, i) => l.startsWith('|') && i > 1 && lines[i - 1]!.startsWith('|---'));
  const cut = (s: string) => (s.length > 160 ? `${s.slice(0, 159)}…` : s);
  return [title, note].filter((s): s is string => s !== undefined).map(cut);
}

/** Newest folder per result name under `root`, sorted by name; ties on date go to the later folder name. */
export function latestResults(root = RESULTS): LatestResult[] {
  const best = new Map<string, LatestResult>();
  for (const folder of readdirSync(root).sort()) {
    const m = FOLDER.exec(folder);
    if (!m) continue;
    const byName = new Map<string, string[]>();
    for (const file of readdirSync(join(root, folder)).sort()) {
      const name = file.replace(/\.(md|json)$/, '');
      if (name !== file) byName.set(name, [...(byName.get(name) ?? []), file]);
    }
    for (const [name, files] of byName) {
      const md = files.includes(`${name}.md`) ? readFileSync(join(root, folder, `${name}.md`), 'utf8') : undefined;
      const text = md ?? readFileSync(join(root, folder, files[0]!), 'utf8');
      const entry: LatestResult = { name, folder, date: runDate(text, m[1]!), sha: m[2]!, files, headline: md ? headline(md) : [] };
      const prev = best.get(name);
      if (!prev || entry.date >= prev.date) best.set(name, entry);
    }
  }
  return [...best.values()].sort((a, b) => a.name.localeCompare(b.name));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of latestResults(process.argv[2] ?? RESULTS)) {
    process.stdout.write(`${r.name}: ${r.folder}/ (${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.sha}; ${r.files.join(', ')})\n`);
    for (const h of r.headline) process.stdout.write(`    ${h}\n`);
  }
}
