/**
 * What a cache-hit credential costs over passthrough, on the same request: one
 * sidecar per config variant, its routes measured in alternating rounds
 * (passthrough with the JWT's Authorization header riding along unchecked, JWT
 * cache hit, API key), so machine noise hits every route alike. The upstream and
 * the load generator share core 0, and so does a local Redis (moved there for
 * the run, as if on its own host); the sidecar has core 1 to itself, so its
 * rps is what it can do on one core. Variants: metering and rate limits off (the
 * credential check alone), limits on (issue 3's "cached JWT check and a token
 * bucket"), both on (the defaults).
 *
 * Usage: node dist/bench/route-cost.js  (Redis on 127.0.0.1:6379; BENCH_DURATION
 * s per round, default 4; BENCH_ROUNDS, default 3). Writes bench/results/<date>-<sha>/route-cost.{json,md}.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, pinLocalRedis, runLoad, startServer, writeResults, type LoadResult } from './harness.js';
import { costRoutes, costVariants, makeCredentials, measuredRoutes, removeCredentials, sidecarConfig } from './scenarios.js';

const duration = Number(process.env['BENCH_DURATION'] ?? 4);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const UP = 3921;
const SIDE = 3923;

const dir = mkdtempSync(join(tmpdir(), 'argus-route-cost-'));
const creds = await makeCredentials(dir, redisUrl, 1);
const routes = costRoutes(creds);
const variants = costVariants();

const results: LoadResult[] = [];
const notes: string[] = [];
const admin = new Redis(redisUrl);
const unpinRedis = await pinLocalRedis(admin);
const up = await startServer('direct', `${DIST}bench/upstream.js`, [String(UP)], UP, 0);
try {
  for (const [name, v] of variants) {
    const file = join(dir, 'sidecar.yaml');
    writeFileSync(file, sidecarConfig(SIDE, SIDE + 1, UP, redisUrl, creds, v));
    const side = await startServer(name, `${DIST}src/cli.js`, ['proxy', '--config', file], SIDE, 1);
    const perRoute = new Map<string, LoadResult[]>();
    const measured = measuredRoutes(routes, v);
    try {
      for (const [, path, headers] of measured)
        await runLoad(
          { scenario: 'warmup', target: name, mode: 'closed', url: `http://127.0.0.1:${SIDE}${path}`, connections: 64, durationS: 2, headers },
          side,
        );
      for (let i = 0; i < rounds; i++) {
        for (const [scenario, path, headers] of measured) {
          const r = await runLoad(
            { scenario, target: name, mode: 'closed', url: `http://127.0.0.1:${SIDE}${path}`, connections: 64, durationS: duration, headers },
            side,
          );
          results.push(r);
          perRoute.set(scenario, [...(perRoute.get(scenario) ?? []), r]);
          process.stderr.write(`${name.padEnd(28)} ${scenario.padEnd(22)} ${r.rps} rps ${r.cpu_us_per_req} µs/req\n`);
        }
      }
    } finally {
      await side.stop();
    }
    const mean = (xs: LoadResult[] | undefined, k: 'rps' | 'cpu_us_per_req') => (xs?.length ? xs.reduce((a, r) => a + r[k], 0) / xs.length : NaN);
    for (const baseName of ['passthrough + bearer', 'passthrough metered']) {
      const base = perRoute.get(baseName);
      if (!base) continue;
      for (const scenario of ['jwt cache hit', 'api key']) {
        const xs = perRoute.get(scenario);
        notes.push(
          `${name}: ${scenario} / ${baseName} = ${((mean(xs, 'rps') / mean(base, 'rps')) * 100).toFixed(1)}% rps (means of ${rounds} alternating rounds), ${(mean(xs, 'cpu_us_per_req') - mean(base, 'cpu_us_per_req')).toFixed(1)} µs CPU per request more`,
        );
      }
    }
  }
  notes.push(
    'Issue 3 target: a cache-hit request costs at most 10% throughput versus passthrough (≥ 90%). Sidecar alone on core 1; the upstream, autocannon and Redis on core 0.',
  );
  writeResults('route-cost', `node dist/bench/route-cost.js (BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds})`, results, notes);
} finally {
  await up.stop();
  unpinRedis();
  await removeCredentials(admin, creds);
  admin.disconnect();
}
