/**
 * JWT and key-set edge cases through the real sidecar, with an upstream that
 * records what it received:
 * - a JWKS listing one kid twice: tokens naming that kid are refused
 *   (401 ARGUS_AMBIGUOUS_SIGNING_KEY, whichever of the two keys signed them), the
 *   other kids keep working, the fetch is logged once and counted;
 * - exp / nbf / iat must be whole seconds in range (1e308, floats, strings → 401
 *   ARGUS_INVALID_TOKEN_TIME);
 * - auth.jwt.max_lifetime_s and max_token_age_s (off by default) bound exp − iat
 *   and now − iat and then require iat.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AUDIENCE, ISSUER, claims } from './support/auth-harness.js';
import { errorCode, get } from './support/http.js';
import { makeSigningKey, signCompact, startJwksServer, type JwksServer, type SigningKey } from './support/jwks-server.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

const nowS = () => Math.floor(Date.now() / 1000);
let serial = 0;
/** A token whose claims are exactly `payload` plus a unique jti (no cache hits between cases). */
const tokenFor = (jwks: JwksServer, payload: Record<string, unknown>, key = jwks.es) => jwks.sign({ ...payload, jti: `t${++serial}` }, { key });

async function call(
  proxy: TestProxy,
  up: RecordingUpstream,
  token: string,
  path = '/api/x',
): Promise<{ status: number; code: string | undefined; reached: boolean }> {
  const before = up.seen.length;
  const r = await get(`${proxy.url}${path}`, { authorization: `Bearer ${token}` });
  return { status: r.status, code: r.status === 200 ? undefined : errorCode(r), reached: up.seen.length > before };
}

async function metric(proxy: TestProxy, name: string): Promise<number> {
  const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('JWKS with a duplicated kid: 401 for that kid, the others keep working', () => {
  let jwks: JwksServer;
  let up: RecordingUpstream;
  let proxy: TestProxy;
  let intruder: SigningKey;
  before(async () => {
    jwks = await startJwksServer();
    up = await startUpstream();
    // Someone appended a key of their own under the trusted RS256 kid.
    intruder = makeSigningKey('RS256', jwks.rs.kid);
    jwks.published.push(intruder);
    proxy = await startTestProxy({
      upstream: { url: up.url },
      auth: {
        jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE, refresh_ms: 600_000, refetch_cooldown_ms: 0 },
        cold: { client_failures_per_minute: 0 },
      },
      routes: [{ path: '/api/*', auth: 'required' }],
    });
    await waitFor(() => proxy.logs.some((l) => l.includes('listed more than once')), 5000, 'the key set to load');
  });
  after(async () => {
    await proxy.stop();
    await up.close();
    await jwks.close();
  });

  it('refuses tokens naming the duplicated kid, signed by either key', async () => {
    for (const key of [jwks.rs, intruder]) {
      const r = await call(proxy, up, tokenFor(jwks, claims(nowS()), key));
      assert.deepEqual(r, { status: 401, code: 'ARGUS_AMBIGUOUS_SIGNING_KEY', reached: false });
    }
  });

  it('keeps serving tokens of the other kids', async () => {
    const r = await call(proxy, up, tokenFor(jwks, claims(nowS()), jwks.es));
    assert.deepEqual(r, { status: 200, code: undefined, reached: true });
  });

  it('logs it once per key-set fetch and counts it', async () => {
    for (let i = 0; i < 5; i++) await call(proxy, up, tokenFor(jwks, claims(nowS()), jwks.rs));
    assert.equal(proxy.logs.filter((l) => l.includes('listed more than once')).length, 1);
    assert.equal(await metric(proxy, 'argus_jwks_duplicate_kids_total'), 1);
  });

  it('serves the kid again once the key set lists it once', async () => {
    jwks.published.splice(jwks.published.indexOf(intruder), 1);
    // An unknown kid makes the sidecar refetch (cooldown 0 here).
    const stranger = makeSigningKey('RS256');
    await call(proxy, up, signCompact({ alg: 'RS256', kid: stranger.kid }, claims(nowS()), stranger));
    const r = await call(proxy, up, tokenFor(jwks, claims(nowS()), jwks.rs));
    assert.deepEqual(r, { status: 200, code: undefined, reached: true });
    assert.equal(proxy.logs.filter((l) => l.includes('listed more than once')).length, 1, 'the clean fetch logs nothing');
  });
});

describe('JWT time claims: whole seconds in range, lifetime and age bounds', () => {
  let jwks: JwksServer;
  let up: RecordingUpstream;
  let plain: TestProxy;
  let bounded: TestProxy | undefined;
  const jwtCfg = () => ({ jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE });
  const startWith = (jwt: Record<string, unknown>) =>
    startTestProxy({ upstream: { url: up.url }, routes: [{ path: '/api/*', auth: 'required' }], auth: { jwt, cold: { client_failures_per_minute: 0 } } });
  before(async () => {
    jwks = await startJwksServer();
    up = await startUpstream();
    plain = await startWith(jwtCfg());
  });
  after(async () => {
    await plain.stop();
    await bounded?.stop();
    await up.close();
    await jwks.close();
  });
  const withBounds = async () => (bounded ??= await startWith({ ...jwtCfg(), max_lifetime_s: 86_400, max_token_age_s: 3600 }));

  const n = nowS();
  const timeCases: Array<[string, Record<string, unknown>]> = [
    ['exp 1e308', { exp: 1e308 }],
    ['exp with a fraction', { exp: n + 600.5 }],
    ['exp as a string', { exp: String(n + 600) }],
    ['exp beyond 2^32', { exp: 2 ** 32 }],
    ['nbf with a fraction', { nbf: n - 10.25 }],
    ['nbf as a string', { nbf: String(n - 10) }],
    ['iat negative', { iat: -1 }],
    ['iat as a string', { iat: String(n - 10) }],
    ['iat 1e308', { iat: 1e308 }],
  ];
  for (const [name, extra] of timeCases) {
    it(`${name} → 401 ARGUS_INVALID_TOKEN_TIME, nothing forwarded`, async () => {
      const r = await call(plain, up, tokenFor(jwks, claims(nowS(), extra)));
      assert.deepEqual(r, { status: 401, code: 'ARGUS_INVALID_TOKEN_TIME', reached: false });
    });
  }

  it('off by default: no iat and a 30-day lifetime are accepted', async () => {
    const { iat: _iat, ...noIat } = claims(nowS());
    assert.equal((await call(plain, up, tokenFor(jwks, noIat))).status, 200);
    assert.equal((await call(plain, up, tokenFor(jwks, claims(nowS(), { exp: nowS() + 30 * 86_400 })))).status, 200);
  });

  it('max_lifetime_s: exp − iat over it → 401 ARGUS_TOKEN_LIFETIME_TOO_LONG', async () => {
    const bounded = await withBounds();
    const t = nowS();
    assert.equal((await call(bounded, up, tokenFor(jwks, claims(t, { iat: t - 5, exp: t - 5 + 86_400 })))).status, 200, 'exactly the bound passes');
    const r = await call(bounded, up, tokenFor(jwks, claims(t, { iat: t - 5, exp: t - 5 + 86_401 })));
    assert.deepEqual(r, { status: 401, code: 'ARGUS_TOKEN_LIFETIME_TOO_LONG', reached: false });
  });

  it('max_token_age_s: now − iat over it → 401 ARGUS_TOKEN_TOO_OLD', async () => {
    const bounded = await withBounds();
    const t = nowS();
    const r = await call(bounded, up, tokenFor(jwks, claims(t, { iat: t - 7200, exp: t + 600 })));
    assert.deepEqual(r, { status: 401, code: 'ARGUS_TOKEN_TOO_OLD', reached: false });
    assert.equal((await call(bounded, up, tokenFor(jwks, claims(t, { iat: t - 600, exp: t + 600 })))).status, 200);
  });

  it('with a bound set, a token without iat → 401 ARGUS_INVALID_TOKEN_TIME', async () => {
    const bounded = await withBounds();
    const { iat: _iat, ...noIat } = claims(nowS());
    const r = await call(bounded, up, tokenFor(jwks, noIat));
    assert.deepEqual(r, { status: 401, code: 'ARGUS_INVALID_TOKEN_TIME', reached: false });
  });
});
