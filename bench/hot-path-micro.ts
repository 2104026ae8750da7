/**
 * What a cache hit, a rate-limit bucket and a usage event cost one request, in
 * isolation: the L1 decision cache's lookup of a fresh 600-character token
 * string, the rate-limit stage (local bucket, the IETF headers) and the meter's request
 * sink (the event, its row in the buffered batch, the spool write shared by the
 * requests of one event-loop turn), without sockets, uWS or the upstream. The
 * end-to-end count is instructions.js; this one has no JIT or GC of the rest of
 * the proxy in it, so two builds' difference shows here first.
 *
 * Each case runs in its own process under callgrind twice, with WARM requests
 * and with WARM + N; the difference ÷ N is the cost per request (start-up and
 * warm-up cancel). 16 requests per event-loop turn, as instructions.js loads.
 *
 * Usage: node dist/bench/hot-path-micro.js [CLI_DIST_DIR] (default: this build's
 * dist/; BENCH_N, default 100000; BENCH_WARM, default 50000; BENCH_PARTS, default
 * `hit,limit,event`: which of the three each request runs, to split the cost; needs valgrind).
 * Prints only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const N = Number(process.env['BENCH_N'] ?? 100000);
const WARM = Number(process.env['BENCH_WARM'] ?? 50000);
const PARTS = new Set((process.env['BENCH_PARTS'] ?? 'hit,limit,event').split(','));

if (process.argv[2] === '--child') await child(process.argv[3]!, Number(process.argv[4]), process.argv[5]!);
else parent(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));

function parent(dist: string): void {
  const self = fileURLToPath(import.meta.url);
  const count = (n: number): number => {
    const spool = mkdtempSync(join(tmpdir(), 'argus-micro-'));
    try {
      const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, self, '--child', dist, String(n), spool], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      const m = /Collected : (\d+)/.exec(r.stderr);
      if (r.status !== 0 || !m) throw new Error(`hot-path-micro: the child failed:\n${r.stderr.slice(-3000)}`);
      return Number(m[1]);
    } finally {
      rmSync(spool, { recursive: true, force: true });
    }
  };
  const base = count(WARM);
  const full = count(WARM + N);
  process.stdout.write(`${dist}: ${[...PARTS].join(' + ')} ${Math.round((full - base) / N)} instructions/request (${N} requests over ${WARM} warm-up)\n`);
}

async function child(dist: string, n: number, spool: string): Promise<void> {
  const { parseConfig } = await import(join(dist, 'src/config.js'));
  const { createRateLimiter } = await import(join(dist, 'src/ratelimit/index.js'));
  const { createRateLimitStage } = await import(join(dist, 'src/ratelimit/stage.js'));
  const { createMeter } = await import(join(dist, 'src/meter/producer.js'));
  const { createMeterSinks } = await import(join(dist, 'src/meter/stage.js'));
  const { Metrics } = await import(join(dist, 'src/observe/metrics.js'));
  const { createL1 } = await import(join(dist, 'src/authenticate/cache.js'));
  const { createLogger } = await import(join(dist, 'src/observe/log.js'));
  const cfg = parseConfig({
    upstream: { url: 'http://127.0.0.1:9' },
    tiers: { business: { requests_per_minute: 100000000 } },
    ratelimit: { enabled: true, scope: 'local' },
    metering: { enabled: true, spool_dir: spool, flush_interval_ms: 50 },
    routes: [{ path: '/jwt/*', auth: 'required' }],
  });
  const metrics = new Metrics();
  const log = createLogger('error');
  const limit = createRateLimitStage(createRateLimiter(cfg, { metrics, log }), cfg.tiers);
  const meter = createMeter(cfg, { metrics, log });
  const sinks = createMeterSinks(meter, cfg.metering, log, Date.now);
  const route = { cfg: cfg.routes[0], label: '/jwt/*', index: 0, caseInsensitive: false };
  const ctx = { method: 'jwt', user_id: 'user-1', tier: 'business', key_id: undefined, stripe_customer: 'cus_1', roles: [], scopes: [] };
  const l1 = createL1({ maxEntries: 1000, ttlMs: 3_600_000, negativeTtlMs: 1000, maxStaleMs: 0 });
  const token = `eyJ${'x'.repeat(560)}.${'s'.repeat(40)}`;
  l1.putPositive('jwt', token, ctx, Date.now());
  let seq = 0;
  const exchange = () => {
    const key = `3f9a1c0b2d4e-${(seq++).toString(36)}`;
    return {
      route,
      routeLabel: '/jwt/*',
      head: { requestId: key, method: 'GET' },
      eventKey: () => key,
      startedAt: Date.now(),
      reportedUsage: undefined,
      aborted: false,
      started: true,
      status: 200,
      body: undefined,
      bytesOut: 2,
      responseHeaders: undefined as unknown,
    };
  };
  for (let done = 0; done < n; ) {
    for (let i = 0; i < 16 && done < n; i++, done++) {
      const ex = exchange();
      if (PARTS.has('hit')) {
        // A fresh string per request, as a parsed header is (a full comparison, not a pointer check).
        const hit = l1.get('jwt', `eyJ${token.slice(3)}`, Date.now());
        if (hit?.ctx !== ctx) throw new Error('hot-path-micro: no cache hit');
      }
      if (PARTS.has('limit')) {
        const o = limit(ctx, route);
        if (o instanceof Promise || !o.ok) throw new Error('hot-path-micro: the bucket refused');
        ex.responseHeaders = o.headers;
      }
      if (PARTS.has('event')) sinks.request(ex, route, ctx);
    }
    await new Promise((r) => setImmediate(r));
  }
  await meter.close();
}
