/**
 * The authenticator reads the projection epoch (src/authenticate/projection.ts)
 * with every Redis lookup. Before this, an emptied Redis made every uncached key
 * a 401 ARGUS_INVALID_API_KEY. Now, with the epoch missing or incomplete:
 * unknown credentials → 503 ARGUS_DEPENDENCY_UNAVAILABLE (Retry-After), closed
 * routes never serve the cache, open routes serve a cached decision only once
 * the deny state is back and does not refuse it. `redis.require_projection`
 * makes a fresh process strict before it has seen any epoch.
 * A private redis-server (never the shared one), an injected clock.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { createAuthenticator, generateApiKey, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { projectionKeys } from '../src/authenticate/projection.js';
import { redisKeys } from '../src/authenticate/store.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { Metrics } from '../src/observe/metrics.js';
import { head, makeConfig, quietLog, routeOf, startPrivateRedis, testClock } from './support/auth-harness.js';

const prefix = 'tproj:';
let priv: Awaited<ReturnType<typeof startPrivateRedis>>;
let redis: Redis;
const authns: Authenticator[] = [];

before(async () => {
  priv = await startPrivateRedis();
  redis = new Redis(priv.url);
});
after(async () => {
  for (const a of authns) await a.close();
  redis.disconnect();
  await priv.kill();
});

const code = (o: AuthOutcome) => (o.ok ? (o.stale ? 'stale' : 'ok') : o.denial.code);
const withKey = (k: string) => head([['x-api-key', k]]);
const epoch = (phase: string) => redis.set(projectionKeys(prefix).epoch, JSON.stringify({ id: 'e1', phase, at: 1 }));

async function authenticator(requireProjection: boolean, clock = testClock()) {
  const cfg = makeConfig({
    redis: { url: priv.url, key_prefix: prefix, require_projection: requireProjection },
    auth: { cache: { ttl_ms: 1000, max_stale_ms: 60_000 } },
    routes: [
      { path: '/open', on_auth_unavailable: 'open' },
      { path: '/closed', on_auth_unavailable: 'closed' },
    ],
  });
  const a = await createAuthenticator(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog, now: clock.now });
  authns.push(a);
  return { a, cfg, clock };
}

async function project(user: string): Promise<ReturnType<typeof generateApiKey>> {
  const k = generateApiKey();
  await projectKey(redis, prefix, k.sha256, { key_id: k.key_id, user_id: user, tier: 'explorer', scopes: [], features: [], status: 'active' });
  return k;
}

test('epoch lost: 503 not 401; cached decisions only on open routes, only after deny state is back and clean', async () => {
  await epoch('complete');
  const kept = await project('u_kept');
  const revoked = await project('u_revoked');
  const { a, cfg, clock } = await authenticator(false);
  const open = routeOf(cfg, '/open');
  const closed = routeOf(cfg, '/closed');
  for (const k of [kept, revoked]) assert.equal(code(await a.authenticate(withKey(k.key), open)), 'ok');
  assert.equal(code(await a.authenticate(withKey(generateApiKey().key), open)), 'ARGUS_INVALID_API_KEY', 'a complete projection is an authority on absence');

  // Redis lost everything (the private server is flushed), past the cache's fresh TTL.
  await redis.flushall();
  clock.advance(2000);
  const unknown = await a.authenticate(withKey(generateApiKey().key), open);
  assert.equal(code(unknown), 'ARGUS_DEPENDENCY_UNAVAILABLE');
  assert.ok(!unknown.ok && unknown.denial.headers?.some(([n, v]) => n === 'retry-after' && Number(v) >= 1));
  assert.equal(code(await a.authenticate(withKey(kept.key), open)), 'ARGUS_DEPENDENCY_UNAVAILABLE', 'deny state unknown: the cache is not trusted');

  // The worker has re-projected the deny state (phase "keys"), one of them revoked meanwhile.
  await epoch('keys');
  await redis.set(redisKeys(prefix).deny('key', revoked.key_id), String(Math.floor(clock.now() / 1000)));
  assert.equal(code(await a.authenticate(withKey(kept.key), open)), 'stale', 'open route: the cached decision, checked against the deny state');
  assert.equal(code(await a.authenticate(withKey(kept.key), closed)), 'ARGUS_DEPENDENCY_UNAVAILABLE', 'closed route: no cache');
  assert.equal(code(await a.authenticate(withKey(revoked.key), open)), 'ARGUS_REVOKED');
  assert.equal(code(await a.authenticate(withKey(generateApiKey().key), open)), 'ARGUS_DEPENDENCY_UNAVAILABLE');

  // Complete again: the projection decides as before.
  await projectKey(redis, prefix, kept.sha256, { key_id: kept.key_id, user_id: 'u_kept', tier: 'explorer', scopes: [], features: [], status: 'active' });
  await epoch('complete');
  clock.advance(2000);
  assert.equal(code(await a.authenticate(withKey(kept.key), closed)), 'ok');
  assert.equal(code(await a.authenticate(withKey(generateApiKey().key), open)), 'ARGUS_INVALID_API_KEY');
});

test('on losing the projection, fresh cached decisions are re-checked: a revocation Redis lost is not served from cache', async () => {
  await redis.flushall();
  await epoch('complete');
  const k = await project('u_fresh');
  const clock = testClock();
  const { a, cfg } = await authenticator(false, clock);
  const open = routeOf(cfg, '/open');
  assert.equal(code(await a.authenticate(withKey(k.key), open)), 'ok');
  // Redis lost its data; the worker re-projected the deny state, which revokes this key (recorded in Postgres while Redis was away).
  await redis.flushall();
  await epoch('keys');
  await redis.set(redisKeys(prefix).deny('key', k.key_id), String(Math.floor(clock.now() / 1000)));
  clock.advance(10); // well inside ttl_ms: the entry is still fresh
  // The first lookup that reaches Redis sees the lost projection...
  assert.equal(code(await a.authenticate(withKey(generateApiKey().key), open)), 'ARGUS_DEPENDENCY_UNAVAILABLE');
  // ...and from then on the cached decision is checked against the deny state before it is served.
  assert.equal(code(await a.authenticate(withKey(k.key), open)), 'ARGUS_REVOKED');
});

test('a fresh process: without require_projection an epoch-less Redis is trusted as before; with it, 503', async () => {
  await redis.flushall();
  const { a: lenient, cfg } = await authenticator(false);
  assert.equal(code(await lenient.authenticate(withKey(generateApiKey().key), routeOf(cfg, '/open'))), 'ARGUS_INVALID_API_KEY');
  const { a: strict } = await authenticator(true);
  assert.equal(code(await strict.authenticate(withKey(generateApiKey().key), routeOf(cfg, '/open'))), 'ARGUS_DEPENDENCY_UNAVAILABLE');
});
