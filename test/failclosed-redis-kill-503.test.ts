/**
 * Fail-closed means closed. Before this, a route with `on_auth_unavailable:
 * closed` admitted requests for seconds after Redis died (fresh cached auth
 * decisions, then the limiter's local share). Now, from the moment the proxy's
 * Redis connection drops, closed routes answer 503 at once; open routes keep
 * serving cached decisions; a global limiter asked to fail closed refuses
 * instead of falling back to its local share.
 *
 * A private redis-server is killed mid-load (never the shared one); the proxy is
 * the real uWS server in this process, in front of a recording upstream.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { parseConfig } from '../src/config.js';
import { Metrics } from '../src/observe/metrics.js';
import { createRateLimiter, limitPolicy } from '../src/ratelimit/index.js';
import { closeRedis, createRedis } from '../src/clients/redis.js';
import { quietLog, startPrivateRedis, until } from './support/auth-harness.js';
import { errorCode, get } from './support/http.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

let upstream: RecordingUpstream;
let proxy: TestProxy | undefined;
const privs: Array<Awaited<ReturnType<typeof startPrivateRedis>>> = [];

before(async () => {
  upstream = await startUpstream();
});
after(async () => {
  await proxy?.stop();
  for (const p of privs) await p.kill();
  await upstream.close();
});

interface Sample {
  readonly route: string;
  readonly startedAt: number;
  readonly status: number;
  readonly code?: string;
}

test('Redis killed mid-load: closed routes 503 from the kill on, open routes keep serving from cache', async () => {
  const priv = await startPrivateRedis();
  privs.push(priv);
  const prefix = 'failclosed:';
  const key = generateApiKey();
  const r = new Redis(priv.url);
  await projectKey(r, prefix, key.sha256, { key_id: key.key_id, user_id: 'u_load', tier: 'enterprise', scopes: [], features: [], status: 'active' });
  r.disconnect();
  proxy = await startTestProxy({
    upstream: { url: upstream.url },
    redis: { url: priv.url, key_prefix: prefix },
    auth: { cache: { ttl_ms: 60_000, max_stale_ms: 120_000 } },
    ratelimit: { scope: 'global' },
    routes: [
      { path: '/closed/*', on_auth_unavailable: 'closed' },
      { path: '/open/*', on_auth_unavailable: 'open' },
    ],
  });
  const headers = { 'x-api-key': key.key };
  for (const path of ['/closed/echo', '/open/echo']) assert.equal((await get(`${proxy.url}${path}`, headers)).status, 200);

  const samples: Sample[] = [];
  let killedAt = Infinity;
  let stop = false;
  const loop = async (route: string) => {
    while (!stop) {
      const startedAt = performance.now();
      const res = await get(`${proxy!.url}${route}/echo`, headers);
      samples.push({ route, startedAt, status: res.status, ...(res.status !== 200 ? { code: errorCode(res) } : {}) });
    }
  };
  const loops = [loop('/closed'), loop('/closed'), loop('/open'), loop('/open')];
  await until(() => samples.filter((s) => s.route === '/closed' && s.status === 200).length >= 20, 'load on the closed route', 15_000);
  await priv.kill();
  killedAt = performance.now();
  // Both routes, 50 each at least: the closed route answers faster (a 503 at once), so a total alone can leave the open one short.
  const after = (route: string) => samples.filter((s) => s.route === route && s.startedAt > killedAt).length;
  await until(() => after('/closed') >= 50 && after('/open') >= 50, 'load after the kill on both routes', 30_000);
  stop = true;
  await Promise.all(loops);

  const afterKill = samples.filter((s) => s.startedAt > killedAt);
  const closed = afterKill.filter((s) => s.route === '/closed');
  const open = afterKill.filter((s) => s.route === '/open');
  assert.ok(closed.length >= 50 && open.length >= 50, `${closed.length} closed, ${open.length} open after the kill`);
  const admitted = closed.filter((s) => s.status < 300);
  assert.equal(admitted.length, 0, `closed route admitted ${admitted.length} requests started after Redis died`);
  assert.ok(
    closed.every((s) => s.status === 503 && s.code === 'ARGUS_AUTH_UNAVAILABLE'),
    JSON.stringify(closed.find((s) => s.status !== 503)),
  );
  assert.ok(
    open.every((s) => s.status === 200),
    `open route kept serving from cache: ${JSON.stringify(open.find((s) => s.status !== 200))}`,
  );
  process.stdout.write(`# after the kill: ${closed.length} closed (all 503), ${open.length} open (all 200); before: ${samples.length - afterKill.length}\n`);
});

test('global limiter asked to fail closed refuses while Redis is away; the local share stays for open callers', async () => {
  const priv = await startPrivateRedis();
  privs.push(priv);
  const redis = createRedis(priv.url);
  redis.on('error', () => undefined);
  await until(() => redis.status === 'ready', 'redis ready');
  const cfg = parseConfig({
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/x', auth: 'none' }],
    redis: { url: priv.url, key_prefix: 'failclosed-rl:' },
    ratelimit: { scope: 'global', replicas: 2 },
  });
  const metrics = new Metrics({ defaultMetrics: false });
  const limiter = createRateLimiter(cfg, { redis, metrics, log: quietLog });
  const policy = limitPolicy({ name: 'explorer', limit: 100, windowS: 60, burst: 10 });
  try {
    let d = await limiter.check('u:a', policy, 1, true);
    assert.deepEqual([d.allowed, d.degraded, d.unavailable], [true, false, undefined]);
    await priv.kill();
    await until(() => redis.status !== 'ready', 'client sees Redis gone');
    d = await limiter.check('u:a', policy, 1, true);
    assert.deepEqual([d.allowed, d.unavailable], [false, true], 'fail closed: no local share');
    d = await limiter.check('u:a', policy, 1, false);
    assert.deepEqual([d.allowed, d.degraded], [true, true], 'open callers keep the local share');
    const values = (await metrics.registry.getSingleMetric('argus_ratelimit_decisions_total')!.get()).values;
    assert.equal(values.find((v) => v.labels.outcome === 'unavailable')?.value, 1);
  } finally {
    await limiter.close();
    await closeRedis(redis);
  }
});
