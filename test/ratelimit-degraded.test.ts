/**
 * scope global with Redis gone: the sidecar keeps enforcing its local share
 * (limit ÷ replicas), never opens the gates, never throws; it returns to the
 * global limit once Redis is back. Runs its own redis-server (never the shared one).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';
import { createRateLimiter, limitPolicy, type RateLimiter } from '../src/ratelimit/index.js';

let server: ChildProcess | undefined;
let redis: Redis | undefined;
let limiter: RateLimiter | undefined;

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

function startRedis(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

async function stopRedis(): Promise<void> {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = once(server, 'exit');
    server.kill('SIGKILL');
    await exited;
  }
}

async function until(what: string, cond: () => boolean, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

after(async () => {
  await limiter?.close();
  if (redis) await closeRedis(redis);
  await stopRedis();
});

test('redis stopped mid-test: local share enforced, no throw; global again after restart', async () => {
  const port = await freePort();
  server = startRedis(port);
  redis = createRedis(`redis://127.0.0.1:${port}`);
  redis.on('error', () => {}); // connection errors are expected here; the limiter reads redis.status
  await until('redis ready', () => redis!.status === 'ready');
  const cfg = parseConfig({
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/x', auth: 'none' }],
    redis: { url: `redis://127.0.0.1:${port}`, key_prefix: 'argus-test:' },
    ratelimit: { scope: 'global', clock: 'local', replicas: 2, redis_timeout_ms: 300, redis_retry_ms: 1000, max_subjects: 1000 },
  });
  const warnings: string[] = [];
  const log = createLogger('warn', {}, (line) => warnings.push(line));
  const metrics = new Metrics({ defaultMetrics: false });
  const clock = { t: 1_700_000_000_000 };
  limiter = createRateLimiter(cfg, { redis, metrics, log, now: () => clock.t });
  const policy = limitPolicy({ name: 'explorer', limit: 100, windowS: 60, burst: 10 });
  const check = (subject: string) => Promise.resolve(limiter!.check(subject, policy));

  for (let i = 0; i < 5; i++) {
    const d = await check('u:a');
    assert.deepEqual([d.allowed, d.degraded], [true, false], 'global while Redis is up');
  }

  await stopRedis();

  // Same instant: the share (100/2 per minute, burst 10/2) admits 5 + 1 more, then refuses.
  const burst = await Promise.all(Array.from({ length: 20 }, () => check('u:a')));
  const admitted = burst.filter((d) => d.allowed);
  assert.equal(admitted.length, 6);
  assert.ok(admitted.every((d) => d.degraded && d.limit === 50));
  assert.ok(burst.filter((d) => !d.allowed).every((d) => d.retryAfterS >= 1));

  // A whole window offered at 3×: within the share's limit + burst, at most 1% under.
  let inWindow = 0;
  const start = clock.t + 60_000;
  for (let i = 0; i < 300; i++) {
    clock.t = start + i * 200;
    const d = await check('u:a');
    if (d.allowed) {
      inWindow++;
      assert.equal(d.degraded, true);
    }
  }
  assert.ok(inWindow <= 55 && inWindow >= 0.99 * 55, `admitted ${inWindow} in the window`);

  const values = (await metrics.registry.getSingleMetric('argus_ratelimit_decisions_total')!.get()).values;
  const of = (outcome: string) => values.find((v) => v.labels.tier === 'explorer' && v.labels.outcome === outcome)?.value ?? 0;
  assert.equal(of('degraded'), 6 + inWindow);
  assert.equal(of('allowed'), 5);

  // The checks above never yielded to I/O, so the client may not have seen the close yet.
  await until('client sees redis gone', () => redis!.status !== 'ready');
  // Redis comes back (empty, no script cached): after the retry interval the global bucket decides again.
  server = startRedis(port);
  await until('redis reconnected', () => redis!.status === 'ready');
  clock.t += 2_000;
  let d = await check('u:b');
  assert.deepEqual([d.allowed, d.degraded], [true, false], warnings.join('\n'));

  // A Redis that hangs: the check does not wait past redis_timeout_ms and the share decides.
  const pauser = createRedis(`redis://127.0.0.1:${port}`);
  pauser.on('error', () => {});
  await until('pauser ready', () => pauser.status === 'ready');
  await pauser.call('CLIENT', 'PAUSE', '1500', 'ALL');
  d = await check('u:c');
  assert.deepEqual([d.allowed, d.degraded], [true, true]);
  pauser.disconnect();

  const unavailable = warnings.filter((l) => l.includes('redis unavailable'));
  assert.ok(unavailable.length >= 1 && unavailable.length <= 3, `logged ${unavailable.length} times, not once per request`);
});
