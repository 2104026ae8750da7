/**
 * JWKS rotation and outage against the stand-in endpoint: an unknown kid causes
 * one refetch (single-flight, cooldown: a flood of random kids costs one fetch);
 * when the endpoint fails the last good key set serves new tokens up to
 * jwt.max_stale_ms, then new tokens get 503 while open routes serve cached
 * decisions within cache.max_stale_ms; recovery resumes normal service.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAuthenticator, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { Metrics } from '../src/observe/metrics.js';
import { AUDIENCE, ISSUER, bearer, claims, head, makeConfig, metricValue, quietLog, routeOf, testClock } from './support/auth-harness.js';
import { makeSigningKey, signCompact, startJwksServer, type JwksServer } from './support/jwks-server.js';

describe('auth JWKS rotation and outage', () => {
  const clock = testClock();
  let jwks: JwksServer;
  let authn: Authenticator;
  let metrics: Metrics;
  let cfg: ReturnType<typeof makeConfig>;

  before(async () => {
    jwks = await startJwksServer();
    cfg = makeConfig({
      auth: {
        jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE, refresh_ms: 600_000, max_stale_ms: 120_000, refetch_cooldown_ms: 30_000 },
        cache: { ttl_ms: 5000, max_stale_ms: 100_000 },
        cold: { client_failures_per_minute: 0 },
      },
      routes: [{ path: '/open', on_auth_unavailable: 'open' }, { path: '/closed' }],
    });
    metrics = new Metrics({ defaultMetrics: false });
    authn = await createAuthenticator(cfg, { metrics, log: quietLog, now: clock.now });
  });

  after(async () => {
    await authn?.close();
    await jwks?.close();
  });

  const code = (o: AuthOutcome) => (o.ok ? 'ok' : o.denial.code);
  const auth = async (token: string, path = '/closed') => authn.authenticate(head(bearer(token)), routeOf(cfg, path));

  test('a token signed by a newly rotated key is accepted after one refetch', async () => {
    assert.equal(jwks.fetches(), 1, 'one fetch at startup');
    const k2 = jwks.rotate();
    assert.equal(code(await auth(jwks.sign(claims(clock.nowS(), { sub: 'u_rot' }), { key: k2 }))), 'ok');
    assert.equal(jwks.fetches(), 2);
    assert.ok(authn.ready());
  });

  test('a flood of unknown kids makes at most one fetch per cooldown', async () => {
    clock.advance(30_000); // past the cooldown of the rotation refetch
    const stranger = makeSigningKey('RS256');
    const before = jwks.fetches();
    const flood = Array.from({ length: 25 }, (_, i) =>
      signCompact({ alg: 'RS256', kid: `random-kid-${i}` }, claims(clock.nowS(), { sub: `u_${i}` }), stranger),
    );
    const outs = await Promise.all(flood.map((t) => auth(t)));
    assert.ok(outs.every((o) => code(o) === 'ARGUS_INVALID_TOKEN'));
    assert.equal(jwks.fetches() - before, 1);
    const more = await Promise.all(flood.map((t) => auth(t + 'x')));
    assert.ok(more.every((o) => !o.ok));
    assert.equal(jwks.fetches() - before, 1, 'still within the cooldown');
  });

  test('a key dropped from the JWKS stops verifying after the next refresh', async () => {
    const old = jwks.sign(claims(clock.nowS(), { sub: 'u_old' }), { key: jwks.rs });
    assert.equal(code(await auth(old)), 'ok');
    const k3 = jwks.rotate({ dropOld: true });
    clock.advance(600_000); // refresh due
    assert.equal(code(await auth(jwks.sign(claims(clock.nowS(), { sub: 'u_k3' }), { key: k3 }))), 'ok');
    await waitFor(async () => code(await auth(jwks.sign(claims(clock.nowS(), { sub: 'u_old2' }), { key: jwks.rs }))) === 'ARGUS_INVALID_TOKEN');
  });

  test('outage: last good keys serve up to max_stale_ms, then 503 (closed) or cached decisions (open)', async () => {
    const k3 = jwks.published.at(-1)!;
    const failuresBefore = await metricValue(metrics.registry, 'argus_jwks_fetch_failures_total');
    jwks.fail(true);
    clock.advance(100_000); // keys now ~100 s old: refresh not due yet, still usable
    const cached = jwks.sign(claims(clock.nowS(), { sub: 'u_cached' }), { key: k3 });
    assert.equal(code(await auth(cached, '/open')), 'ok', 'last good key set still verifies');
    clock.advance(25_000); // ~125 s: past jwt.max_stale_ms, refetch fails
    const fresh = jwks.sign(claims(clock.nowS(), { sub: 'u_fresh' }), { key: k3 });
    assert.equal(code(await auth(fresh, '/closed')), 'ARGUS_AUTH_UNAVAILABLE');
    assert.equal(code(await auth(fresh, '/open')), 'ARGUS_AUTH_UNAVAILABLE', 'never accepted unverified');
    const stale = await auth(cached, '/open');
    assert.ok(stale.ok && stale.stale === true, 'open route serves the cached decision');
    assert.equal(code(await auth(cached, '/closed')), 'ARGUS_AUTH_UNAVAILABLE');
    assert.ok(!authn.ready());
    assert.ok((await metricValue(metrics.registry, 'argus_jwks_fetch_failures_total')) > failuresBefore);
    assert.ok((await metricValue(metrics.registry, 'argus_jwks_age_seconds')) >= 120);

    jwks.fail(false);
    clock.advance(30_000); // past the cooldown after the failure
    assert.equal(code(await auth(fresh, '/closed')), 'ok', 'recovered');
    assert.ok(authn.ready());
    assert.ok((await metricValue(metrics.registry, 'argus_jwks_age_seconds')) < 1);
  });
});

/** Poll an async condition with a deadline (a background refresh may still be in flight). */
async function waitFor(cond: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
