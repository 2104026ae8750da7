/**
 * Accepted credentials: JWT (RS256, ES256, inline and on the piscina pool), API
 * keys (Redis projection and standalone file), session headers (current and
 * previous secret), claim mapping, Redis user enrichment, L1 behaviour
 * (synchronous hits, TTL, exp cap, single-flight), WebSocket query tokens and the
 * admin feature check.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createAuthenticator, generateApiKey, hashApiKey, signSession, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { redisKeys } from '../src/authenticate/store.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { identityHeaders } from '../src/authorize/index.js';
import { Metrics } from '../src/observe/metrics.js';
import {
  AUDIENCE,
  ISSUER,
  SESSION_SECRET,
  SHARED_REDIS,
  bearer,
  claims,
  dropPrefix,
  head,
  makeConfig,
  metricValue,
  quietLog,
  routeOf,
  testClock,
  testPrefix,
} from './support/auth-harness.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';

const ok = (o: AuthOutcome) => {
  assert.ok(o.ok, `expected ok, got ${JSON.stringify(o)}`);
  assert.ok(o.ctx);
  return o.ctx;
};

describe('auth 200', () => {
  const prefix = testPrefix('200');
  const clock = testClock();
  const dir = mkdtempSync(join(tmpdir(), 'argus-auth-'));
  let jwks: JwksServer;
  let redis: Redis;
  let metrics: Metrics;
  let authn: Authenticator;
  let cfg: ReturnType<typeof makeConfig>;
  const key = generateApiKey();

  before(async () => {
    jwks = await startJwksServer();
    redis = new Redis(SHARED_REDIS);
    cfg = makeConfig({
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: {
        jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE, leeway_s: 30 },
        session: { secret: SESSION_SECRET, previous_secret: 'old-session-secret-0123456789', max_age_s: 3600 },
      },
      routes: [
        { path: '/ws', websocket: { query_token: true } },
        { path: '/ws-strict', websocket: {} },
        { path: '/*', auth: 'required' },
      ],
    });
    await projectKey(redis, prefix, key.sha256, {
      key_id: key.key_id,
      user_id: 'u_key',
      tier: 'business',
      role: 'service',
      scopes: ['sibyl:read'],
      features: ['predictions'],
      status: 'active',
      created_at: clock.nowS() - 100,
      trading: { exchanges: ['binance'], order_types: ['limit'], paper_only: true },
    });
    await redis.set(
      redisKeys(prefix).user('u_rich'),
      JSON.stringify({
        tier: 'enterprise',
        features: ['predictions', 'llm'],
        requests_per_minute: 5000,
        llm: { models: ['gpt-4o-mini'], model_tiers: [], daily_token_budget: 100000 },
      }),
    );
    metrics = new Metrics({ defaultMetrics: false });
    authn = await createAuthenticator(cfg, { metrics, log: quietLog, now: clock.now });
  });

  after(async () => {
    await authn?.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    await jwks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const route = () => routeOf(cfg, '/*');

  test('RS256 token: claims become the context; the repeat is a synchronous L1 hit', async () => {
    const token = jwks.sign(
      claims(clock.nowS(), {
        'custom:tier': 'professional',
        'cognito:groups': ['admin'],
        scope: 'sibyl:read sibyl:write',
        'custom:features': 'predictions,alerts',
        origin_jti: 'sess-1',
      }),
    );
    const ctx = ok(await authn.authenticate(head(bearer(token)), route()));
    assert.equal(ctx.method, 'jwt');
    assert.equal(ctx.user_id, 'u_1');
    assert.equal(ctx.tier, 'professional');
    assert.equal(ctx.role, 'admin');
    assert.deepEqual(ctx.scopes, ['sibyl:read', 'sibyl:write']);
    assert.deepEqual(ctx.features, ['predictions', 'alerts']);
    assert.equal(ctx.session_id, 'sess-1');
    const again = authn.authenticate(head(bearer(token)), route());
    assert.ok(!(again instanceof Promise), 'L1 hit is synchronous');
    assert.equal(ok(again), ctx);
    const hits = await metricValue(metrics.registry, 'argus_auth_cache_total', { layer: 'l1', result: 'hit' });
    assert.ok(hits >= 1);
    assert.equal(await metricValue(metrics.registry, 'argus_auth_cache_total', { layer: 'l1', result: 'hit' }), hits, 'a second scrape does not double count');
    assert.ok((await metricValue(metrics.registry, 'argus_auth_decisions_total', { method: 'jwt', outcome: 'ok' })) >= 2);
    assert.deepEqual(identityHeaders(ctx), [
      'x-argus-auth',
      'jwt',
      'x-argus-user-id',
      'u_1',
      'x-argus-tier',
      'professional',
      'x-argus-role',
      'admin',
      'x-argus-scopes',
      'sibyl:read,sibyl:write',
      'x-argus-features',
      'predictions,alerts',
    ]);
  });

  test('ES256 token, unknown tier claim falls back to the default tier', async () => {
    const token = jwks.sign(claims(clock.nowS(), { sub: 'u_es', 'custom:tier': 'platinum' }), { key: jwks.es });
    const ctx = ok(await authn.authenticate(head(bearer(token)), route()));
    assert.equal(ctx.user_id, 'u_es');
    assert.equal(ctx.tier, 'explorer');
  });

  test('the Redis user record overrides claims (tier, features, entitlements)', async () => {
    const token = jwks.sign(claims(clock.nowS(), { sub: 'u_rich', 'custom:tier': 'explorer' }));
    const ctx = ok(await authn.authenticate(head(bearer(token)), route()));
    assert.equal(ctx.tier, 'enterprise');
    assert.deepEqual(ctx.features, ['predictions', 'llm']);
    assert.equal(ctx.requests_per_minute, 5000);
    assert.deepEqual(ctx.llm?.models, ['gpt-4o-mini']);
    assert.deepEqual(await authn.features('u_rich', ['llm', 'trading']), { llm: true, trading: false });
  });

  test('API key from Redis, in its header or as a Bearer token', async () => {
    const ctx = ok(await authn.authenticate(head([['x-api-key', key.key]]), route()));
    assert.equal(ctx.method, 'api_key');
    assert.equal(ctx.key_id, key.key_id);
    assert.equal(ctx.tier, 'business');
    assert.equal(ctx.trading?.exchanges[0], 'binance');
    assert.equal(ok(await authn.authenticate(head(bearer(key.key)), route())).key_id, key.key_id);
    // The same key in both places is one credential, not two.
    assert.equal(ok(await authn.authenticate(head([...bearer(key.key), ['x-api-key', key.key]]), route())).key_id, key.key_id);
    assert.ok(identityHeaders(ctx).includes('x-argus-key-id'));
  });

  test('session header signed with the current or the previous secret', async () => {
    const payload = { sub: 'u_sess', sid: 'sid-1', exp: clock.nowS() + 600, tier: 'professional' };
    const ctx = ok(await authn.authenticate(head([['x-cognito-session', signSession(payload, SESSION_SECRET)]]), route()));
    assert.equal(ctx.method, 'session');
    assert.equal(ctx.session_id, 'sid-1');
    assert.equal(ctx.tier, 'professional');
    const old = signSession({ ...payload, sid: 'sid-2' }, 'old-session-secret-0123456789');
    assert.equal(ok(await authn.authenticate(head([['x-cognito-session', old]]), route())).session_id, 'sid-2');
  });

  test('WebSocket routes with query_token accept access_token in the query; others and HTTP routes refuse it', async () => {
    const token = jwks.sign(claims(clock.nowS(), { sub: 'u_ws' }));
    assert.equal(ok(await authn.authenticate(head([], { query: `access_token=${token}` }), routeOf(cfg, '/ws'))).user_id, 'u_ws');
    const strict = await authn.authenticate(head([], { query: `access_token=${token}` }), routeOf(cfg, '/ws-strict'));
    assert.equal(!strict.ok && strict.denial.code, 'ARGUS_CREDENTIAL_IN_QUERY');
    assert.ok(ok(await authn.authenticate(head(bearer(token), { query: 'page=2&q=hello%20world&token_count=5' }), route())), 'ordinary queries pass');
    const http = await authn.authenticate(head([], { query: `access_token=${token}` }), route());
    assert.equal(!http.ok && http.denial.code, 'ARGUS_CREDENTIAL_IN_QUERY');
  });

  test('WebSocket routes accept a bearer credential as a Sec-WebSocket-Protocol entry', async () => {
    const token = jwks.sign(claims(clock.nowS(), { sub: 'u_proto' }));
    assert.equal(ok(await authn.authenticate(head([['sec-websocket-protocol', `v1, bearer.${token}`]]), routeOf(cfg, '/ws-strict'))).user_id, 'u_proto');
    const twice = await authn.authenticate(
      head([
        ['sec-websocket-protocol', `bearer.${token}`],
        ['authorization', 'Bearer ak_live_other'],
      ]),
      routeOf(cfg, '/ws-strict'),
    );
    assert.equal(!twice.ok && twice.denial.code, 'ARGUS_AMBIGUOUS_CREDENTIALS');
  });

  test('after ttl_ms the credential is re-checked; never cached or accepted past exp + leeway', async () => {
    const token = jwks.sign(claims(clock.nowS(), { sub: 'u_short', exp: clock.nowS() + 2 }));
    ok(await authn.authenticate(head(bearer(token)), route()));
    clock.advance(cfg.auth.cache.ttl_ms);
    const re = authn.authenticate(head(bearer(token)), route());
    assert.ok(re instanceof Promise, 'past exp the entry is not fresh');
    ok(await re); // still inside the 30 s leeway
    clock.advance(31_000);
    const late = await authn.authenticate(head(bearer(token)), route());
    assert.equal(!late.ok && late.denial.code, 'ARGUS_TOKEN_EXPIRED');
  });

  test('concurrent requests with one new token verify it once (single-flight)', async () => {
    const token = jwks.sign(claims(clock.nowS(), { sub: 'u_flight' }));
    const cold = () => metricValue(metrics.registry, 'argus_auth_duration_seconds_count', { phase: 'cold' });
    const before = await cold();
    const outs = await Promise.all(Array.from({ length: 8 }, () => authn.authenticate(head(bearer(token)), route())));
    outs.forEach((o) => {
      ok(o);
    });
    assert.equal((await cold()) - before, 1);
  });

  test('piscina pool (verify_threads: 1) verifies good tokens and refuses forged ones', async () => {
    const c = makeConfig({ auth: { jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE, verify_threads: 1 } }, routes: [{ path: '/*' }] });
    const a = await createAuthenticator(c, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog, now: clock.now });
    try {
      const good = jwks.sign(claims(clock.nowS(), { sub: 'u_pool' }), { key: jwks.es });
      assert.equal(ok(await a.authenticate(head(bearer(good)), c.routes[0]!)).user_id, 'u_pool');
      const forged = await a.authenticate(head(bearer(jwks.sign(claims(clock.nowS(), { sub: 'u_pool2' })).slice(0, -4) + 'AAAA')), c.routes[0]!);
      assert.equal(!forged.ok && forged.denial.code, 'ARGUS_INVALID_TOKEN');
      const expired = await a.authenticate(head(bearer(jwks.sign(claims(clock.nowS(), { exp: clock.nowS() - 3600 })))), c.routes[0]!);
      assert.equal(!expired.ok && expired.denial.code, 'ARGUS_TOKEN_EXPIRED');
    } finally {
      await a.close();
    }
  });

  test('standalone: keys from a file of digests, jwks from a file; no Redis needed', async () => {
    const k = generateApiKey();
    assert.match(k.key, /^ak_live_[0-9A-Za-z]{43}$/);
    assert.equal(k.sha256, hashApiKey(k.key));
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, `- key_id: ${k.key_id}\n  sha256: ${k.sha256}\n  user_id: u_file\n  tier: professional\n  features: [predictions]\n`);
    const jwksFile = join(dir, 'jwks.json');
    jwks.writeFile(jwksFile);
    const c = makeConfig({ auth: { api_keys: { file }, jwt: { jwks_file: jwksFile, issuer: ISSUER, audience: AUDIENCE } }, routes: [{ path: '/*' }] });
    const a = await createAuthenticator(c, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog, now: clock.now });
    try {
      assert.ok(a.ready());
      const ctx = ok(await a.authenticate(head([['x-api-key', k.key]]), c.routes[0]!));
      assert.equal(ctx.user_id, 'u_file');
      assert.deepEqual(await a.features('u_file', ['predictions', 'llm']), { predictions: true, llm: false });
      assert.equal(ok(await a.authenticate(head(bearer(jwks.sign(claims(clock.nowS(), { sub: 'u_jf' })))), c.routes[0]!)).user_id, 'u_jf');
      assert.equal(await a.revalidate(ctx), 'ok');
    } finally {
      await a.close();
    }
  });

  test('close() is idempotent', async () => {
    const c = makeConfig({ routes: [{ path: '/*' }] });
    const a = await createAuthenticator(c, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
    const p1 = a.close();
    assert.equal(a.close(), p1);
    await p1;
  });
});
