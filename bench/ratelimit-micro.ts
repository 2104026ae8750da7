/**
 * Micro benchmark of RateLimiter.check: limits off, scope local, scope global
 * (real Redis, sequential round trips), in one run. Not part of the tests.
 *
 *   node dist/bench/ratelimit-micro.js [--n 200000] [--global-n 5000] [--redis redis://127.0.0.1:6379] [--out FILE]
 *
 * Prints a table and JSON (ops/s, p50/p99 in microseconds). The end-to-end rps/p99
 * through the proxy belongs to the load bench (bench/run), which wires this in.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';
import { createRateLimiter, limitPolicy } from '../src/ratelimit/index.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const N = Number(arg('n', '200000'));
const GLOBAL_N = Number(arg('global-n', '5000'));
const REDIS_URL = arg('redis', 'redis://127.0.0.1:6379');
const SUBJECTS = 10_000;

interface Row {
  mode: string;
  ops: number;
  ops_per_s: number;
  p50_us: number;
  p99_us: number;
}

async function run(mode: 'off' | 'local' | 'global', n: number, redis?: Redis, prefix?: string): Promise<Row> {
  const cfg = parseConfig({
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/x', auth: 'none' }],
    ...(redis ? { redis: { url: REDIS_URL, key_prefix: prefix } } : {}),
    ratelimit: { enabled: mode !== 'off', scope: mode === 'global' ? 'global' : 'local', redis_timeout_ms: 1000 },
  });
  const limiter = createRateLimiter(cfg, { ...(redis ? { redis } : {}), metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error') });
  const policy = limitPolicy({ name: 'professional', limit: 1000, windowS: 60, burst: 100 });
  const samples = new Float64Array(n);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    const d = limiter.check(`u:${i % SUBJECTS}`, policy);
    if (d instanceof Promise) await d;
    samples[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  const total = Number(process.hrtime.bigint() - t0) / 1e9;
  await limiter.close();
  samples.sort();
  return { mode, ops: n, ops_per_s: Math.round(n / total), p50_us: round(samples[Math.floor(n * 0.5)]!), p99_us: round(samples[Math.floor(n * 0.99)]!) };
}

const round = (x: number) => Math.round(x * 100) / 100;

const rows: Row[] = [await run('off', N), await run('local', N)];
const redis = createRedis(REDIS_URL);
const prefix = `argus-bench-${randomUUID()}:`;
try {
  await once(redis, 'ready');
  rows.push(await run('global', GLOBAL_N, redis, prefix));
} finally {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await closeRedis(redis);
}
console.table(rows);
const out = JSON.stringify({ bench: 'ratelimit-micro', node: process.version, date: new Date().toISOString(), rows }, null, 2);
console.log(out);
const file = arg('out', '');
if (file) writeFileSync(file, out + '\n');
