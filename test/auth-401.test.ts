/**
 * 401: the bad-credential corpus, missing credentials, ambiguity, negative caching,
 * user-level revocation and the per-address failure window, against a real
 * Authenticator (stand-in JWKS over HTTP, real Redis).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createAuthenticator, generateApiKey, signSession, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { projectKey, publishRevocation } from '../src/identity-admin/publish.js';
import { createExtractor } from '../src/authenticate/credentials.js';
import { statusOf } from '../src/errors.js';
import { Metrics } from '../src/observe/metrics.js';
import { badCredentials } from './fixtures/bad-credentials.js';
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
  quietLog,
  routeOf,
  testClock,
  testPrefix,
} from './support/auth-harness.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';

describe('auth 401', () => {
  const prefix = testPrefix('401');
  const clock = testClock();
  let jwks: JwksServer;
  let redis: Redis;
  let authn: Authenticator;
  let cfg: ReturnType<typeof makeConfig>;
  const revoked = generateApiKey();

  before(async () => {
    jwks = await startJwksServer();
    redis = new Redis(SHARED_REDIS);
    cfg = makeConfig({
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: {
        jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE, token_use: 'access', client_id: 'client-1', refetch_cooldown_ms: 60_000 },
        session: { secret: SESSION_SECRET, max_age_s: 3600 },
        cold: { client_failures_per_minute: 0 },
      },
      routes: [
        { path: '/open', auth: 'optional' },
        { path: '/none', auth: 'none' },
        { path: '/*', auth: 'required' },
      ],
    });
    await projectKey(redis, prefix, revoked.sha256, {
      key_id: revoked.key_id,
      user_id: 'u_rev',
      tier: 'explorer',
      scopes: [],
      features: [],
      status: 'revoked',
    });
    authn = await createAuthenticator(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog, now: clock.now });
  });

  after(async () => {
    await authn?.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    await jwks.close();
  });

  const valid = () => jwks.sign(claims(clock.nowS(), { token_use: 'access', client_id: 'client-1', jti: `j-${Math.random()}` }));

  test('control: a valid token is accepted (so the corpus can fail)', async () => {
    const out = await authn.authenticate(head(bearer(valid())), routeOf(cfg, '/*'));
    assert.equal(out.ok, true);
  });

  test('every corpus entry is refused with 401, its code and WWW-Authenticate', async () => {
    const corpus = badCredentials({
      rs: jwks.rs,
      es: jwks.es,
      issuer: ISSUER,
      audience: AUDIENCE,
      tokenUse: 'access',
      clientId: 'client-1',
      sessionSecret: SESSION_SECRET,
      revokedApiKey: revoked.key,
      nowS: clock.nowS(),
    });
    assert.ok(corpus.length >= 30, `corpus has ${corpus.length} entries`);
    const wrong: string[] = [];
    for (const c of corpus) {
      const out: AuthOutcome = await authn.authenticate(head(c.headers, { query: c.query ?? '' }), routeOf(cfg, '/*'));
      if (out.ok) {
        wrong.push(`${c.name}: accepted`);
        continue;
      }
      if (statusOf(out.denial.code) !== 401 || out.denial.code !== c.code) wrong.push(`${c.name}: ${out.denial.code}, expected ${c.code}`);
      const www = out.denial.headers?.find(([n]) => n === 'www-authenticate');
      if (www?.[1] !== 'Bearer error="invalid_token"') wrong.push(`${c.name}: no WWW-Authenticate`);
    }
    assert.deepEqual(wrong, []);
  });

  test('a cached token lends nothing to a forged one with the same signature (L1 is keyed by the tail, matched whole)', async () => {
    const good = valid();
    const [h, payload, sig] = good.split('.') as [string, string, string];
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'someone-else' })).toString('base64url')}.${sig}`;
    assert.equal((await authn.authenticate(head(bearer(good)), routeOf(cfg, '/*'))).ok, true);
    const out = await authn.authenticate(head(bearer(forged)), routeOf(cfg, '/*'));
    assert.ok(!out.ok);
    assert.equal(statusOf(out.denial.code), 401);
    // The forged token's negative entry took the slot; the good one is verified afresh, still accepted.
    const again = await authn.authenticate(head(bearer(good)), routeOf(cfg, '/*'));
    assert.equal(again.ok, true);
    assert.equal(again.ok && again.ctx?.user_id, JSON.parse(Buffer.from(payload, 'base64url').toString()).sub);
  });

  test('bad credentials on an optional route are 401 too, not anonymous', async () => {
    const out = await authn.authenticate(head(bearer('abc.def.ghi')), routeOf(cfg, '/open'));
    assert.equal(out.ok, false);
  });

  test('no credential: required → 401 ARGUS_UNAUTHENTICATED; optional and none → anonymous', async () => {
    const req = await authn.authenticate(head([]), routeOf(cfg, '/*'));
    assert.equal(req.ok, false);
    assert.equal(!req.ok && req.denial.code, 'ARGUS_UNAUTHENTICATED');
    assert.deepEqual(await authn.authenticate(head([]), routeOf(cfg, '/open')), { ok: true, ctx: null });
    assert.deepEqual(await authn.authenticate(head(bearer('garbage')), routeOf(cfg, '/none')), { ok: true, ctx: null });
  });

  test('a refused credential is negative-cached: the repeat answers synchronously, until negative_ttl', async () => {
    const forged = jwks.sign(claims(clock.nowS(), { token_use: 'access', client_id: 'client-1' })).slice(0, -8) + 'AAAAAAAA';
    const first = await authn.authenticate(head(bearer(forged)), routeOf(cfg, '/*'));
    assert.equal(first.ok, false);
    const second = authn.authenticate(head(bearer(forged)), routeOf(cfg, '/*'));
    assert.ok(!(second instanceof Promise), 'negative hit is synchronous');
    assert.equal((second as AuthOutcome).ok, false);
    clock.advance(cfg.auth.cache.negative_ttl_ms);
    assert.ok(authn.authenticate(head(bearer(forged)), routeOf(cfg, '/*')) instanceof Promise, 'expired negative entry goes cold again');
  });

  test('revoke --user refuses tokens issued before it, not tokens issued after', async () => {
    const older = jwks.sign(claims(clock.nowS(), { sub: 'u_rev_user', token_use: 'access', client_id: 'client-1', iat: clock.nowS() - 60 }));
    await publishRevocation(redis, prefix, { kind: 'user', id: 'u_rev_user', at: clock.nowS() - 30 });
    const out = await authn.authenticate(head(bearer(older)), routeOf(cfg, '/*'));
    assert.equal(!out.ok && out.denial.code, 'ARGUS_REVOKED');
    const newer = jwks.sign(claims(clock.nowS(), { sub: 'u_rev_user', token_use: 'access', client_id: 'client-1', iat: clock.nowS() - 5 }));
    assert.equal((await authn.authenticate(head(bearer(newer)), routeOf(cfg, '/*'))).ok, true);
  });

  test('fuzz: mutated tokens, keys and session headers are refused and never throw', async () => {
    let seed = 0x2545f491;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/= \t\u00e9\u0000';
    const token = valid();
    const dot1 = token.indexOf('.');
    const dot2 = token.indexOf('.', dot1 + 1);
    const sessionValue = signSession({ sub: 'u_f', sid: 's_f', exp: clock.nowS() + 600 }, SESSION_SECRET);
    const wrong: string[] = [];
    for (let i = 0; i < 300; i++) {
      let h: Array<[string, string]>;
      const pick = i % 4;
      if (pick === 0) {
        // Change one character strictly inside the header or payload segment (the last
        // character of a base64url segment can carry unused bits, so it is left alone).
        const inHeader = rnd(2) === 0;
        const pos = inHeader ? 1 + rnd(dot1 - 2) : dot1 + 2 + rnd(dot2 - dot1 - 3);
        const c = ALPHABET[rnd(ALPHABET.length)]!;
        if (token[pos] === c) continue;
        h = bearer(token.slice(0, pos) + c + token.slice(pos + 1));
      } else if (pick === 1) {
        h = bearer(Array.from({ length: 1 + rnd(200) }, () => ALPHABET[rnd(ALPHABET.length)]).join(''));
      } else if (pick === 2) {
        const pos = rnd(sessionValue.indexOf('.') - 1);
        const c = ALPHABET[rnd(62)]!;
        if (sessionValue[pos] === c) continue;
        h = [['x-cognito-session', sessionValue.slice(0, pos) + c + sessionValue.slice(pos + 1)]];
      } else {
        h = [['x-api-key', 'ak_live_' + Array.from({ length: rnd(60) }, () => ALPHABET[rnd(ALPHABET.length)]).join('')]];
      }
      try {
        const out = await authn.authenticate(head(h, { remoteAddress: `203.0.113.${i % 250}` }), routeOf(cfg, '/*'));
        if (out.ok || statusOf(out.denial.code) !== 401) wrong.push(`${i}: ${out.ok ? 'accepted' : out.denial.code}`);
      } catch (err) {
        wrong.push(`${i}: threw ${(err as Error).message}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('an address that keeps failing is throttled (429) before any verification; others are not', async () => {
    const c2 = makeConfig({ auth: { ...cfg.auth, cold: { client_failures_per_minute: 3 } }, redis: cfg.redis, routes: [{ path: '/*' }] });
    const a2 = await createAuthenticator(c2, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog, now: clock.now });
    try {
      const bad = (i: number) => head([['x-api-key', `ak_live_${'Q'.repeat(40)}${i}00`]], { remoteAddress: '198.51.100.7' });
      for (let i = 0; i < 3; i++) assert.equal(((await a2.authenticate(bad(i), c2.routes[0]!)) as { ok: boolean }).ok, false);
      const fourth = await a2.authenticate(bad(4), c2.routes[0]!);
      assert.equal(!fourth.ok && fourth.denial.code, 'ARGUS_AUTH_THROTTLED');
      assert.equal(statusOf('ARGUS_AUTH_THROTTLED'), 429);
      const other = await a2.authenticate(head(bearer(valid()), { remoteAddress: '198.51.100.8' }), c2.routes[0]!);
      assert.equal(other.ok, true);
      clock.advance(60_000);
      const later = await a2.authenticate(bad(5), c2.routes[0]!);
      assert.equal(!later.ok && later.denial.code, 'ARGUS_INVALID_API_KEY');
    } finally {
      await a2.close();
    }
  });
});

test('the Authorization header: every spelling of "Bearer <token>" gives the token, anything else its own 401', () => {
  const extract = createExtractor(makeConfig({}).auth);
  const tok = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';
  const outcome = (value: string) => {
    const r = extract(head([['authorization', value]]), undefined);
    return r === null ? null : 'code' in r ? r.code : `${r.kind}:${r.value}`;
  };
  for (const v of [
    `Bearer ${tok}`,
    `bearer ${tok}`,
    `BEARER ${tok}`,
    `bEaReR ${tok}`,
    `Bearer  ${tok}`,
    ` Bearer ${tok}`,
    `Bearer ${tok} `,
    `Bearer ${tok}\t`,
  ]) {
    assert.equal(outcome(v), `jwt:${tok}`, JSON.stringify(v));
  }
  assert.equal(outcome('Bearer ak_live_abc'), 'api_key:ak_live_abc');
  for (const v of [`Bearer a ${tok}`, `Bearer ${tok} x`, `Bearer ${tok}\tx`, 'Bearer ', 'Bearer'])
    assert.equal(outcome(v), 'ARGUS_INVALID_TOKEN', JSON.stringify(v));
  for (const v of [`Bearer\t${tok}`, `Basic ${tok}`, `Bearers ${tok}`, `Bearex ${tok}`, `Bearer${tok}`, tok])
    assert.equal(outcome(v), 'ARGUS_UNSUPPORTED_AUTH_SCHEME', JSON.stringify(v));
});
