/**
 * 503 and fail-open: with Redis down, `closed` routes (and every trading route)
 * answer 503 ARGUS_AUTH_UNAVAILABLE; `open` routes serve cached positive decisions
 * no older than cache.max_stale_ms (stale: true, counted), never a new credential.
 * Uses a private redis-server that the test kills (never the shared one).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createAuthenticator, generateApiKey, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { statusOf } from '../src/errors.js';
import { Metrics } from '../src/observe/metrics.js';
import {
  AUDIENCE,
  ISSUER,
  bearer,
  claims,
  head,
  makeConfig,
  metricValue,
  quietLog,
  routeOf,
  startPrivateRedis,
  testClock,
  until,
} from './support/auth-harness.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';

describe('auth 503', () => {
  const clock = testClock();
  let jwks: JwksServer;
  let priv: Awaited<ReturnType<typeof startPrivateRedis>>;
  let authn: Authenticator;
  let metrics: Metrics;
  let cfg: ReturnType<typeof makeConfig>;
  const key = generateApiKey();

  before(async () => {
    jwks = await startJwksServer();
    priv = await startPrivateRedis();
    cfg = makeConfig({
      redis: { url: priv.url, key_prefix: 't503:' },
      auth: { jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE }, cache: { ttl_ms: 5000, max_stale_ms: 60_000 } },
      routes: [
        { path: '/open', on_auth_unavailable: 'open' },
        { path: '/closed', on_auth_unavailable: 'closed' },
        { path: '/trade', on_auth_unavailable: 'open', trading: true },
      ],
    });
    const r = new Redis(priv.url);
    await projectKey(r, 't503:', key.sha256, { key_id: key.key_id, user_id: 'u_key', tier: 'explorer', scopes: [], features: [], status: 'active' });
    r.disconnect();
    metrics = new Metrics({ defaultMetrics: false });
    authn = await createAuthenticator(cfg, { metrics, log: quietLog, now: clock.now });
  });

  after(async () => {
    await authn?.close();
    await priv?.kill();
    await jwks?.close();
  });

  const code = (o: AuthOutcome) => (o.ok ? 'ok' : o.denial.code);

  test('Redis down: open routes serve the cached decision (stale), closed and trading routes 503, new credentials 503', async () => {
    const token = jwks.sign(claims(clock.nowS(), { sub: 'u_cached' }));
    const trader = jwks.sign(claims(clock.nowS(), { sub: 'u_trader' }));
    assert.equal(code(await authn.authenticate(head(bearer(token)), routeOf(cfg, '/open'))), 'ok');
    assert.equal(code(await authn.authenticate(head(bearer(trader)), routeOf(cfg, '/trade'))), 'ok');
    assert.equal(code(await authn.authenticate(head([['x-api-key', key.key]]), routeOf(cfg, '/open'))), 'ok');
    assert.ok(authn.ready());

    await priv.kill();
    await until(() => !authn.ready(), 'authenticator to notice Redis is down');
    clock.advance(6000); // past ttl_ms: every entry needs a re-check now

    const open = await authn.authenticate(head(bearer(token)), routeOf(cfg, '/open'));
    assert.ok(open.ok && open.stale === true && open.ctx?.user_id === 'u_cached', JSON.stringify(open));
    assert.equal(await metricValue(metrics.registry, 'argus_auth_fail_open_total', { route: '/open' }), 1);
    const keyOpen = await authn.authenticate(head([['x-api-key', key.key]]), routeOf(cfg, '/open'));
    assert.ok(keyOpen.ok && keyOpen.stale === true);

    const closed = await authn.authenticate(head(bearer(token)), routeOf(cfg, '/closed'));
    assert.equal(code(closed), 'ARGUS_AUTH_UNAVAILABLE');
    assert.equal(statusOf('ARGUS_AUTH_UNAVAILABLE'), 503);
    assert.ok(!closed.ok && closed.denial.headers?.some(([n]) => n === 'retry-after'));
    assert.equal(
      code(await authn.authenticate(head(bearer(trader)), routeOf(cfg, '/trade'))),
      'ARGUS_AUTH_UNAVAILABLE',
      'trading routes are always fail-closed',
    );

    const fresh = jwks.sign(claims(clock.nowS(), { sub: 'u_new' }));
    assert.equal(
      code(await authn.authenticate(head(bearer(fresh)), routeOf(cfg, '/open'))),
      'ARGUS_AUTH_UNAVAILABLE',
      'a new credential is never accepted unverified',
    );
    const unknownKey = generateApiKey().key;
    assert.equal(code(await authn.authenticate(head([['x-api-key', unknownKey]]), routeOf(cfg, '/open'))), 'ARGUS_AUTH_UNAVAILABLE');

    const ctx = open.ok ? open.ctx : null;
    assert.ok(ctx);
    assert.equal(await authn.revalidate(ctx), 'unavailable');
    await assert.rejects(authn.features('u_cached', ['x']));

    clock.advance(60_000); // past cache.max_stale_ms
    assert.equal(code(await authn.authenticate(head(bearer(token)), routeOf(cfg, '/open'))), 'ARGUS_AUTH_UNAVAILABLE', 'staleness is bounded');
  });
});
