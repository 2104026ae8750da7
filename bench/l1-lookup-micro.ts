/**
 * One L1 cache lookup (src/authenticate/cache.ts) of a fresh 600-character JWT
 * among 20,000 entries, in ns, two builds alternating in one process: each
 * lookup gets a new string made the way a request's is (the header's bytes to a
 * string, `Bearer ` sliced off), and the making alone is measured and shown
 * apart. Wall clock: pin it (`taskset -c 1`) and read the two builds' difference.
 *
 * Usage: node dist/bench/l1-lookup-micro.js A_DIST_DIR B_DIST_DIR (default: this
 * build twice); BENCH_ROUNDS 5, BENCH_N 1000000. Prints only.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AuthContext } from '../src/request/principal.js';

type CacheModule = typeof import('../src/authenticate/cache.js');
const here = new URL('../', import.meta.url).pathname;
const [dirA = here, dirB = here] = process.argv.slice(2);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
const n = Number(process.env['BENCH_N'] ?? 1_000_000);
const load = async (dir: string) => (await import(pathToFileURL(resolve(dir, 'src/authenticate/cache.js')).href)) as CacheModule;

const ctx: AuthContext = { method: 'jwt', user_id: 'u', tier: 'explorer', features: [], scopes: [] };
const token = `eyJ${randomBytes(450).toString('base64url')}.${randomBytes(256).toString('base64url')}`;
const header = Buffer.from(`Bearer ${token}`, 'latin1');

function filled(m: CacheModule) {
  const l1 = m.createL1({ maxEntries: 20000, ttlMs: 1e9, negativeTtlMs: 100, maxStaleMs: 0 });
  for (let i = 0; i < 19999; i++) l1.putPositive('jwt', `eyJ${randomBytes(40).toString('base64url')}`, ctx, 0);
  l1.putPositive('jwt', token, ctx, 0);
  return l1;
}

function lookups(l1: ReturnType<CacheModule['createL1']>, count: number): number {
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) if (l1.get('jwt', header.toString('latin1').slice(7), 1)?.ctx === ctx) hits++;
  const ns = Number(process.hrtime.bigint() - t0) / count;
  if (hits !== count) throw new Error('l1-lookup-micro: a lookup missed');
  return ns;
}

function making(count: number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) sink += header.toString('latin1').slice(7).length;
  const ns = Number(process.hrtime.bigint() - t0) / count;
  if (sink !== count * token.length) throw new Error('l1-lookup-micro: bad string');
  return ns;
}

const a = filled(await load(dirA));
const b = filled(await load(dirB));
for (let w = 0; w < 3; w++) {
  lookups(a, n / 4);
  lookups(b, n / 4);
  making(n / 4);
}
const r = { making: [] as number[], a: [] as number[], b: [] as number[] };
for (let k = 0; k < rounds; k++) {
  r.making.push(making(n));
  r.a.push(lookups(a, n));
  r.b.push(lookups(b, n));
}
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const m = med(r.making);
process.stdout.write(
  `ns per lookup, median of ${rounds} rounds of ${n}, the string's making (${m.toFixed(1)} ns) subtracted: A ${(med(r.a) - m).toFixed(1)} (${dirA}), B ${(med(r.b) - m).toFixed(1)} (${dirB})\n`,
);
