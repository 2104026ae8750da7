/**
 * What a change message evicts from one authenticator's L1 cache: `user` → that
 * user's JWT, session and API-key decisions; `org` → the org's keys only; `key`
 * → that key only. Everything else stays a synchronous cache hit. A malformed
 * message evicts nothing; a heartbeat re-check reports the changed context.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createAuthenticator, generateApiKey, signSession, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { createL1 } from '../src/authenticate/cache.js';
import type { AuthContext } from '../src/request/principal.js';
import { redisKeys } from '../src/authenticate/store.js';
import { projectKey } from '../src/identity-admin/publish.js';
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
  testClock,
  testPrefix,
  until,
} from './support/auth-harness.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';

describe('change messages evict what they name', () => {
  const prefix = testPrefix('changes-evict');
  const k = redisKeys(prefix);
  const clock = testClock();
  let jwks: JwksServer;
  let redis: Redis;
  let authn: Authenticator;
  let metrics: Metrics;
  let cfg: ReturnType<typeof makeConfig>;
  const userKey = generateApiKey();
  const orgKey = generateApiKey();
  const otherKey = generateApiKey();

  before(async () => {
    jwks = await startJwksServer();
    redis = new Redis(SHARED_REDIS);
    const rec = { scopes: [], features: [], status: 'active' as const, tier: 'explorer' };
    await projectKey(redis, prefix, userKey.sha256, { ...rec, key_id: userKey.key_id, user_id: 'u1' });
    await projectKey(redis, prefix, orgKey.sha256, { ...rec, key_id: orgKey.key_id, user_id: 'u1', org_id: 'o1' });
    await projectKey(redis, prefix, otherKey.sha256, { ...rec, key_id: otherKey.key_id, user_id: 'u2' });
    await redis.set(k.org('o1'), JSON.stringify({ tier: 'business' }));
    cfg = makeConfig({
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: { jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE }, session: { secret: SESSION_SECRET } },
    });
    metrics = new Metrics({ defaultMetrics: false });
    authn = await createAuthenticator(cfg, { metrics, log: quietLog, now: clock.now });
  });

  after(async () => {
    await authn.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    await jwks.close();
  });

  const route = () => cfg.routes[0]!;
  const creds = () => ({
    jwt: bearer(jwks.sign(claims(clock.nowS(), { sub: 'u1' }))),
    session: [['x-cognito-session', signSession({ sub: 'u1', sid: 's1', exp: clock.nowS() + 3600 }, SESSION_SECRET)]] as Array<[string, string]>,
    userKey: [['x-api-key', userKey.key]] as Array<[string, string]>,
    orgKey: [['x-api-key', orgKey.key]] as Array<[string, string]>,
    otherKey: [['x-api-key', otherKey.key]] as Array<[string, string]>,
  });
  // One set of credentials for the whole test: the cache is keyed by the credential.
  let c: ReturnType<typeof creds>;

  /** Which credentials are cached hits now (a miss returns a Promise). */
  async function cached(): Promise<string[]> {
    const out: string[] = [];
    for (const [name, h] of Object.entries(c)) {
      const o = authn.authenticate(head(h), route());
      if (!(o instanceof Promise)) out.push(name);
      const r: AuthOutcome = await o;
      assert.ok(r.ok, `${name}: ${JSON.stringify(r)}`);
    }
    return out;
  }
  const all = ['jwt', 'session', 'userKey', 'orgKey', 'otherKey'];
  const publish = (msg: unknown) => redis.publish(k.changes, typeof msg === 'string' ? msg : JSON.stringify(msg));

  async function changesApplied(): Promise<number> {
    let n = 0;
    for (const kind of ['user', 'org', 'key']) n += await metricValue(metrics.registry, 'argus_auth_changes_total', { kind });
    return n;
  }

  test('everything cached; a malformed message evicts nothing', async () => {
    c = creds();
    await cached();
    assert.deepEqual(await cached(), all);
    await publish('{"kind":"everyone","id":"u1"}');
    await publish({ kind: 'user', id: 'u_nobody', version: 1 });
    await until(async () => (await changesApplied()) === 1, 'the well-formed change');
    assert.deepEqual(await cached(), all);
  });

  test('kind user evicts the JWT, session and both keys of u1, not u2', async () => {
    await publish({ kind: 'user', id: 'u1', version: 2 });
    await until(async () => (await changesApplied()) === 2, 'the change');
    assert.deepEqual(await cached(), ['otherKey']);
    assert.deepEqual(await cached(), all);
  });

  test('kind org evicts the org key only; kind key evicts that key only', async () => {
    await publish({ kind: 'org', id: 'o1', version: 2 });
    await until(async () => (await changesApplied()) === 3, 'the org change');
    assert.deepEqual(await cached(), ['jwt', 'session', 'userKey', 'otherKey']);
    await publish({ kind: 'key', id: otherKey.key_id, version: 2 });
    await until(async () => (await changesApplied()) === 4, 'the key change');
    assert.deepEqual(await cached(), ['jwt', 'session', 'userKey', 'orgKey']);
  });

  test('a heartbeat re-check reports the changed owner record, and ok when unchanged', async () => {
    const o = await authn.authenticate(head(c.orgKey), route());
    assert.ok(o.ok && o.ctx);
    assert.equal(o.ctx.tier, 'business');
    assert.equal(await authn.revalidate(o.ctx), 'ok');
    await redis.set(k.org('o1'), JSON.stringify({ tier: 'enterprise', trading: { exchanges: ['binance'], order_types: [], paper_only: true } }));
    const r = await authn.revalidate(o.ctx);
    assert.ok(typeof r === 'object', `changed, got ${JSON.stringify(r)}`);
    assert.equal(r.changed.tier, 'enterprise');
    assert.deepEqual(r.changed.trading?.exchanges, ['binance']);
    assert.equal(await authn.revalidate(r.changed), 'ok');
    await redis.del(k.org('o1'));
    const back = await authn.revalidate(r.changed);
    assert.ok(typeof back === 'object');
    assert.equal(back.changed.tier, 'explorer', 'no owner record: the key record applies again');
  });
});

test('the owner index follows the cache: LRU eviction, replacement and clear leave no stale lines', () => {
  const l1 = createL1({ maxEntries: 3, ttlMs: 1000, negativeTtlMs: 100, maxStaleMs: 0 });
  const ctx = (user: string, key?: string, org?: string): AuthContext => ({
    method: key ? 'api_key' : 'jwt',
    user_id: user,
    tier: 'explorer',
    features: [],
    scopes: [],
    ...(key && { key_id: key }),
    ...(org && { org_id: org }),
  });
  l1.putPositive('api_key', 'ak_1', ctx('u1', 'k1', 'o1'), 0);
  l1.putPositive('api_key', 'ak_2', ctx('u1', 'k2', 'o1'), 0);
  l1.putPositive('jwt', 'jwt_3', ctx('u2'), 0);
  assert.equal(l1.indexSize(), 5, 'u1, u2, o1, k1, k2');
  l1.putPositive('jwt', 'jwt_4', ctx('u3'), 0); // evicts ak_1 (least recently used)
  assert.equal(l1.indexSize(), 5, 'k1 gone, u3 added');
  assert.equal(l1.evictOwner('key', 'k1'), 0);
  l1.putNegative('api_key', 'ak_2', { code: 'ARGUS_INVALID_API_KEY', message: 'x' } as never, 0); // replaces k2's positive entry
  assert.equal(l1.indexSize(), 2, 'only u2 and u3 remain');
  assert.equal(l1.evictOwner('org', 'o1'), 0);
  assert.equal(l1.evictOwner('user', 'u2'), 1);
  assert.equal(l1.get('jwt', 'jwt_3', 0), undefined);
  assert.equal(l1.indexSize(), 1);
  l1.clear();
  assert.equal(l1.indexSize(), 0);
});
