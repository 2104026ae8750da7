/**
 * Through the real proxy: every bad credential is a 401 the upstream never sees;
 * good credentials reach it with the sidecar's identity headers (client-sent ones
 * replaced); policy refusals are 403; the tier's limit gives 429 with the IETF
 * headers; a shadow route records but forwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { badCredentials } from './fixtures/bad-credentials.js';
import { AUDIENCE, ISSUER, SESSION_SECRET, SHARED_REDIS, claims, dropPrefix, testPrefix } from './support/auth-harness.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';
import { get, errorCode as code, type HttpReply as Reply } from './support/http.js';

describe('proxy: authenticate, authorize, rate limit', () => {
  const prefix = testPrefix('proxy-auth');
  let jwks: JwksServer;
  let redis: Redis;
  let up: RecordingUpstream;
  let proxy: TestProxy;
  const explorerKey = generateApiKey();
  const proKey = generateApiKey();
  const revoked = generateApiKey();

  before(async () => {
    jwks = await startJwksServer();
    redis = new Redis(SHARED_REDIS);
    up = await startUpstream();
    await projectKey(redis, prefix, explorerKey.sha256, {
      key_id: explorerKey.key_id,
      user_id: 'u_explorer',
      tier: 'explorer',
      scopes: [],
      features: [],
      status: 'active',
    });
    await projectKey(redis, prefix, proKey.sha256, {
      key_id: proKey.key_id,
      user_id: 'u_pro',
      tier: 'professional',
      scopes: ['sibyl:read'],
      features: ['predictions'],
      status: 'active',
    });
    await projectKey(redis, prefix, revoked.sha256, {
      key_id: revoked.key_id,
      user_id: 'u_rev',
      tier: 'explorer',
      scopes: [],
      features: [],
      status: 'revoked',
    });
    proxy = await startTestProxy({
      upstream: { url: up.url },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: {
        jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE },
        session: { secret: SESSION_SECRET, max_age_s: 3600 },
        cold: { client_failures_per_minute: 0 },
      },
      tiers: { explorer: { requests_per_minute: 5, burst: 0 } },
      routes: [
        { path: '/pro/*', auth: 'required', tier: 'professional', features: ['predictions'], scopes: ['sibyl:read'] },
        { path: '/shadow/*', auth: 'required', tier: 'business', mode: 'shadow' },
        { path: '/limited/*', auth: 'required', rate_class: 'limited' },
        { path: '/*', auth: 'required' },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
    await jwks.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('forwards a valid JWT with the sidecar identity, replacing spoofed headers', async () => {
    const token = jwks.sign(claims(Math.floor(Date.now() / 1000), { sub: 'u_jwt' }));
    const r = await get(`${proxy.url}/echo`, { authorization: `Bearer ${token}`, 'x-argus-user-id': 'admin', 'X-Argus-Tier': 'enterprise' });
    assert.equal(r.status, 200, r.body);
    const h = up.seen.at(-1)!.headers;
    assert.equal(h['x-argus-user-id'], 'u_jwt');
    assert.equal(h['x-argus-auth'], 'jwt');
    assert.equal(h['x-argus-tier'], 'explorer');
    assert.equal(up.seen.at(-1)!.rawHeaders.filter((x) => x.toLowerCase() === 'x-argus-user-id').length, 1);
  });

  it('forwards a valid API key with its key id, and answers RateLimit headers on the 200', async () => {
    const r = await get(`${proxy.url}/pro/predict`, { 'x-api-key': proKey.key });
    assert.equal(r.status, 200, r.body);
    const h = up.seen.at(-1)!.headers;
    assert.equal(h['x-argus-key-id'], proKey.key_id);
    assert.equal(h['x-argus-auth'], 'api_key');
    assert.equal(h['x-argus-features'], 'predictions');
    assert.match(String(r.headers['ratelimit-policy']), /"professional";q=1000;w=60/);
    assert.match(String(r.headers['ratelimit']), /"professional";r=\d+;t=\d+/);
  });

  it('refuses every bad credential with 401 and never reaches the upstream', async () => {
    const corpus = badCredentials({
      rs: jwks.rs,
      es: jwks.es,
      issuer: ISSUER,
      audience: AUDIENCE,
      sessionSecret: SESSION_SECRET,
      revokedApiKey: revoked.key,
      nowS: Math.floor(Date.now() / 1000),
    });
    assert.ok(corpus.length >= 30);
    const before = up.seen.length;
    const wrong: string[] = [];
    for (const c of corpus) {
      const headers: Record<string, string> = {};
      const dup = new Map<string, string[]>();
      for (const [n, v] of c.headers) dup.set(n, [...(dup.get(n) ?? []), v]);
      for (const [n, vs] of dup) headers[n] = vs.length === 1 ? vs[0]! : (vs as unknown as string);
      const r = await get(`${proxy.url}/echo${c.query ? `?${c.query}` : ''}`, headers);
      if (r.status !== 401) wrong.push(`${c.name}: ${r.status}`);
      else if (r.headers['www-authenticate'] !== 'Bearer error="invalid_token"') wrong.push(`${c.name}: no WWW-Authenticate`);
    }
    assert.deepEqual(wrong, []);
    assert.equal(up.seen.length, before, 'the upstream saw a request with a bad credential');
  });

  it('403 when the route needs a higher tier, with a distinct code', async () => {
    const before = up.seen.length;
    const r = await get(`${proxy.url}/pro/predict`, { 'x-api-key': explorerKey.key });
    assert.equal(r.status, 403);
    assert.equal(code(r), 'ARGUS_TIER_REQUIRED');
    assert.equal(up.seen.length, before);
  });

  it('429 with Retry-After and RateLimit headers once the tier limit is spent', async () => {
    const statuses: number[] = [];
    let last: Reply | undefined;
    for (let i = 0; i < 7; i++) {
      last = await get(`${proxy.url}/limited/x`, { 'x-api-key': explorerKey.key });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses.slice(0, 1), [200]);
    assert.ok(statuses.includes(429), `no 429 in ${statuses.join(',')}`);
    const limited = last!;
    assert.equal(limited.status, 429);
    assert.equal(code(limited), 'ARGUS_RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.match(String(limited.headers['ratelimit-policy']), /"explorer.limited";q=5;w=60/);
  });

  it('a shadow route records the refusal and forwards as anonymous', async () => {
    const before = up.seen.length;
    const r = await get(`${proxy.url}/shadow/x`, { 'x-api-key': explorerKey.key });
    assert.equal(r.status, 200);
    assert.equal(up.seen.length, before + 1);
    assert.equal(up.seen.at(-1)!.headers['x-argus-auth'], 'none');
    assert.match(await proxy.metrics.registry.metrics(), /argus_auth_shadow_decisions_total\{route="\/shadow\/\*",code="ARGUS_TIER_REQUIRED"\} 1/);
  });

  it('answers the batch feature check on the admin port', async () => {
    await redis.set(`${prefix}auth:user:u_feat`, JSON.stringify({ user_id: 'u_feat', tier: 'business', features: ['predictions', 'llm'], scopes: [] }));
    const r = await get(`${proxy.adminUrl}/v1/features?user=u_feat&features=predictions,trading,llm`);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { user: 'u_feat', features: { predictions: true, trading: false, llm: true } });
  });
});
