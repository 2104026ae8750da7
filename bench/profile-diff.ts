/**
 * Where two builds' instructions differ, by function: the callgrind dumps of one
 * route kept by `BENCH_KEEP_DIR=DIR node dist/bench/instructions.js` (one DIR per
 * build), B minus A per request, largest first.
 *
 * Usage: node dist/bench/profile-diff.js A_DIR B_DIR [route, default jwt_cache_hit] [requests per dump, default 1500] [rows, default 25]
 * (prints only).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { profile } from './callgrind-profile.js';

const [dirA, dirB, route = 'jwt_cache_hit', requests = '1500', top = '25'] = process.argv.slice(2);
if (!dirA || !dirB) {
  process.stderr.write('usage: node dist/bench/profile-diff.js A_DIR B_DIR [route] [requests] [rows]\n');
  process.exit(2);
}
const N = Number(requests);

function load(dir: string): { total: number; p: Map<string, number> } {
  const files = readdirSync(dir);
  const dump = files.find((f) => f.includes(`.${route}.`) && f.endsWith('.cg'));
  const map = files.find((f) => f.endsWith('.perf.map'));
  if (!dump || !map) throw new Error(`${dir}: no ${route} dump or perf map`);
  const total = Number(/\.(\d+)\.cg$/.exec(dump)?.[1] ?? NaN);
  return { total, p: profile(join(dir, dump), join(dir, map)) };
}

const a = load(dirA);
const b = load(dirB);
const rows = [...new Set([...a.p.keys(), ...b.p.keys()])]
  .map((k) => [k, ((b.p.get(k) ?? 0) - (a.p.get(k) ?? 0)) / N, (a.p.get(k) ?? 0) / N, (b.p.get(k) ?? 0) / N] as const)
  .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]))
  .slice(0, Number(top));
process.stdout.write(
  `${route}: A ${a.total} B ${b.total} instructions/request, B − A ${b.total - a.total}\n\n| function | A | B | B − A |\n|---|---:|---:|---:|\n`,
);
for (const [k, d, x, y] of rows) process.stdout.write(`| \`${k}\` | ${Math.round(x)} | ${Math.round(y)} | ${Math.round(d)} |\n`);
