/**
 * Where bench results go: bench/results/<YYYY-MM-DD>-<short sha>/<name>.json and .md,
 * the sha being the commit measured (`git rev-parse --short HEAD`), with `-dirty`
 * when tracked files under src/ or bench/ have uncommitted changes. Every
 * result file also carries the sha, the date, the machine and the exact command, so
 * a file copied out of its folder still says what it measured. Every bench script
 * that records results writes through writeResultFiles; bench/latest.ts lists them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file compiles to dist/bench/). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS = join(REPO, 'bench', 'results');

/** The commit under measurement: short sha, `-dirty` when src/ or bench/ has uncommitted tracked changes; `unknown` outside git. */
export function commitKey(cwd = REPO): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bench'], { cwd, encoding: 'utf8' });
  return head.stdout.trim() + (dirty.stdout.trim() ? '-dirty' : '');
}

/** CPU model, cores, memory and Node version, merged with what the caller adds (pinning, load average). */
export function machineInfo(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cpu_model: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, mem_gib: Math.round(totalmem() / 2 ** 30), node: process.version, ...extra };
}

export interface ResultStamp {
  readonly sha: string;
  readonly date: string;
  readonly command: string;
  readonly machine: Record<string, unknown>;
}

/** Folder name for a stamp: `<YYYY-MM-DD>-<sha>`. */
export function folderName(stamp: Pick<ResultStamp, 'sha' | 'date'>): string {
  return `${stamp.date.slice(0, 10)}-${stamp.sha}`;
}

/** The stamp as the Markdown lines that follow a result file's title. */
export function stampLines(stamp: ResultStamp): string {
  return `Commit: \`${stamp.sha}\` · ${stamp.date} · \`${stamp.command}\`\n\nMachine: ${JSON.stringify(stamp.machine)}\n`;
}

/**
 * Write `<name>.json` (the stamp's fields first, then `doc`) and, when `markdown` is
 * given, `<name>.md` (its `# title` line, the stamp, then the rest) into today's
 * folder for the current commit; returns the folder. `markdown` should not repeat
 * the date, command or machine: the stamp carries them.
 */
export function writeResultFiles(
  name: string,
  command: string,
  machine: Record<string, unknown>,
  doc: Record<string, unknown>,
  markdown?: string,
  root = RESULTS,
): string {
  const stamp: ResultStamp = { sha: commitKey(), date: new Date().toISOString(), command, machine: machineInfo(machine) };
  const dir = join(root, folderName(stamp));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ suite: name, ...stamp, ...doc }, null, 2) + '\n');
  if (markdown !== undefined) {
    const nl = markdown.indexOf('\n');
    const [title, rest] = markdown.startsWith('# ') && nl > 0 ? [markdown.slice(0, nl), markdown.slice(nl + 1).replace(/^\n+/, '')] : [`# ${name}`, markdown];
    writeFileSync(join(dir, `${name}.md`), `${title}\n\n${stampLines(stamp)}\n${rest}`);
  }
  process.stdout.write(`(results: ${join(dir, name)}.json${markdown !== undefined ? ' and .md' : ''})\n`);
  return dir;
}
