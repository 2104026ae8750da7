/**
 * `threads: 1` against `threads: 2`, in the layout of bench/peers.ts (wrk -t1 -c64
 * on core 0, nginx `return 200` upstream on core 1, same RS256 token, alternating
 * rounds, medians), on the passthrough route and the production hot path (JWT
 * cache hit + local limit + metering):
 *
 * - sidecar pinned to core 1: a second thread has no core of its own, so this
 *   row shows what the threads cost (SO_REUSEPORT spread, shared limiter memory,
 *   a second pool, L1 cache and spool), not scaling;
 * - sidecar on cores 0 and 1: the second thread gets a core, shared with wrk and
 *   Redis, the nearest this 2-vCPU machine comes to "one more core".
 *
 * Options: BENCH_DURATION (s, default 5), BENCH_ROUNDS (3), BENCH_REDIS.
 * Results: bench/results/<date>-<sha>/threads.{json,md}. Needs Redis; nginx and wrk
 * (installed like bench:peers).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pinLocalRedis } from './harness.js';
import { ensurePackages, loadAverage, measure, median, pinSelf, startNginxUpstream, startSidecar, type Measured, type Target } from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import { makeCredentials, removeCredentials, type SidecarVariant } from './scenarios.js';

const duration = Number(process.env['BENCH_DURATION'] ?? 5);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';

ensurePackages();
pinSelf(0);
const dir = mkdtempSync(join(tmpdir(), 'argus-threads-'));
chmodSync(dir, 0o755);
const UP = 3940;
const creds = await makeCredentials(dir, redisUrl, 1);
const bearer = { authorization: `Bearer ${creds.jwt}` };

interface Case {
  readonly name: string;
  readonly path: string;
  readonly cores: string;
  readonly variant: SidecarVariant;
}

const CASES: Case[] = [];
for (const cores of ['1', '0,1']) {
  for (const threads of [1, 2]) {
    CASES.push({ name: `passthrough, threads ${threads}, cores ${cores}`, path: '/pass/x', cores, variant: { threads, metering: false, ratelimit: false } });
    CASES.push({ name: `hot path, threads ${threads}, cores ${cores}`, path: '/jwt/x', cores, variant: { threads } });
  }
}

const targets: Target[] = [];
let upstream: Target | undefined;
let restoreRedis = (): void => undefined;
const loadAtStart = loadAverage();
try {
  const redis = new Redis(redisUrl);
  restoreRedis = await pinLocalRedis(redis);
  redis.disconnect();
  upstream = await startNginxUpstream(dir, UP, join(dir, 'up.sock'));
  let port = 3942;
  for (const c of CASES) {
    targets.push(await startSidecar(dir, c.name, port, UP, redisUrl, creds, c.variant, c.cores));
    port += 2;
  }
  const runs: Measured[][] = CASES.map(() => []);
  for (const [i, c] of CASES.entries()) measure(targets[i]!, upstream!, c.path, bearer, 2);
  for (let round = 0; round < rounds; round++) {
    CASES.forEach((c, i) => {
      const m = measure(targets[i]!, upstream!, c.path, bearer, duration);
      if (m.non2xx > 0) throw new Error(`${c.name}: ${m.non2xx} non-2xx answers`);
      runs[i]!.push(m);
      process.stderr.write(`round ${round + 1} ${c.name.padEnd(36)} ${String(m.rps).padStart(6)} rps  ${m.cpu_us} (${m.user_us}) µs/req\n`);
    });
  }
  const med = (i: number, k: keyof Measured) => median(runs[i]!.map((r) => r[k] as number));
  const index = (name: string) => CASES.findIndex((c) => c.name === name);
  const scale = (route: string, cores: string) =>
    (med(index(`${route}, threads 2, cores ${cores}`), 'rps') / med(index(`${route}, threads 1, cores ${cores}`), 'rps')).toFixed(2);
  const command = `node dist/bench/threads.js (BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds})`;
  const md = [
    '# threads: 1 vs 2',
    '',
    '| sidecar | rps (median) | rps (rounds) | CPU µs/req (user) |',
    '|---|---:|---|---:|',
    ...CASES.map((c, i) => `| ${c.name} | ${med(i, 'rps')} | ${runs[i]!.map((r) => r.rps).join(' / ')} | ${med(i, 'cpu_us')} (${med(i, 'user_us')}) |`),
    '',
    `- threads 2 / threads 1 rps, pinned to core 1: passthrough ${scale('passthrough', '1')}, hot path ${scale('hot path', '1')} (no second core: the cost of a thread)`,
    `- threads 2 / threads 1 rps, cores 0 and 1 (shared with wrk and Redis): passthrough ${scale('passthrough', '0,1')}, hot path ${scale('hot path', '0,1')}`,
    `- wrk -t1 -c64 on core 0, nginx upstream on core 1; ${rounds} rounds of ${duration} s alternating, medians; CPU of the sidecar process from /proc`,
    `- load average at start ${loadAtStart}, at end ${loadAverage()} (1/5/15 min; 2 vCPUs shared with other work)`,
    '',
  ].join('\n');
  writeResultFiles('threads', command, { loadavg: loadAtStart }, { cases: CASES.map((c, i) => ({ ...c, runs: runs[i] })) }, md);
  process.stdout.write(md);
} finally {
  for (const t of targets.reverse()) await t.stop();
  await upstream?.stop();
  restoreRedis();
  const r = new Redis(redisUrl);
  await removeCredentials(r, creds);
  r.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
