/**
 * Where two builds' instructions differ, by function: the callgrind dumps of one
 * route kept by `BENCH_KEEP_DIR=DIR node dist/bench/instructions.js` (one DIR per
 * build), B minus A per request, largest first.
 *
 * Usage: node dist/bench/profile-diff.js A_DIR[:N] B_DIR[:N] [route, default jwt_cache_hit] [rows, default 25]
 * (prints only); N is the run's BENCH_REQUESTS (default 2000).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { profile } from './callgrind-profile.js';

const [dirA, dirB, route = 'jwt_cache_hit', top = '25'] = process.argv.slice(2);
if (!dirA || !dirB) {
  process.stderr.write('usage: node dist/bench/profile-diff.js A_DIR[:N] B_DIR[:N] [route] [rows]\n');
  process.exit(2);
}

/** Instructions per request and per function per request, from one kept dump. */
function load(arg: string): { total: number; p: Map<string, number> } {
  const [dir = arg, n = '2000'] = arg.split(':');
  const files = readdirSync(dir);
  const dump = files.find((f) => f.includes(`.${route}.`) && f.endsWith('.cg'));
  const map = files.find((f) => f.endsWith('.perf.map'));
  if (!dump || !map) throw new Error(`${dir}: no ${route} dump or perf map`);
  const total = Number(/\.(\d+)\.cg$/.exec(dump)?.[1] ?? NaN);
  const perRequest = new Map([...profile(join(dir, dump), join(dir, map))].map(([k, v]) => [k, v / Number(n)]));
  return { total, p: perRequest };
}

const a = load(dirA);
const b = load(dirB);
const rows = [...new Set([...a.p.keys(), ...b.p.keys()])]
  .map((k) => [k, (b.p.get(k) ?? 0) - (a.p.get(k) ?? 0), a.p.get(k) ?? 0, b.p.get(k) ?? 0] as const)
  .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]))
  .slice(0, Number(top));
process.stdout.write(
  `${route}: A ${a.total} B ${b.total} instructions/request, B − A ${b.total - a.total}\n\n| function | A | B | B − A |\n|---|---:|---:|---:|\n`,
);
for (const [k, d, x, y] of rows) process.stdout.write(`| \`${k}\` | ${Math.round(x)} | ${Math.round(y)} | ${Math.round(d)} |\n`);
