/**
 * Acceptance (issue 25) at a running sidecar: u1 on explorer with key K gets
 * 11 × 200 then 429; a signed `customer.subscription.updated` for u1's
 * customer (Stripe now says active, professional) → within 1 s the next
 * request with K is 200 with the professional `RateLimit-Policy`, and so is a
 * JWT caller of u1. `deleted` → within 1 s the inactive tier: a route with a
 * tier minimum answers 403 ARGUS_TIER_REQUIRED.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBillingEnv, type BillingEnv } from './support/billing-env.js';
import { SESSION_SECRET, writeRaw } from './support/control.js';
import { get } from './support/http.js';
import { startIdentityUpstream, type IdentityUpstream } from './support/identity-upstream.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import { waitFor } from './support/raw.js';
import { startCli, type StartedChild } from './support/spawn.js';

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'argus';

describe('a subscription change reaches the sidecar within 1 s', () => {
  let b: BillingEnv;
  let up: IdentityUpstream;
  let jwks: JwksServer;
  let proxy: StartedChild;
  let sidecar = '';

  before(async () => {
    up = await startIdentityUpstream();
    jwks = await startJwksServer();
    const auth = { session: { secret: SESSION_SECRET }, jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE } };
    const routes = [{ path: '/healthz', auth: 'none' }, { path: '/pro/*', tier: 'explorer' }, { path: '/*' }];
    b = await startBillingEnv({ upstream: up.url, extra: { auth, routes } });
    proxy = startCli(['proxy', '--config', writeRaw({ ...b.env.raw, auth: { ...auth, cache: { ttl_ms: 60000 } } })]);
    sidecar = `http://127.0.0.1:${(await proxy.waitForLog('proxy listening'))['port']}`;
  });
  after(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await b?.stop();
    await up?.close();
    await jwks?.close();
  });

  it('explorer 11 × 200 then 429; professional within 1 s for the key and a JWT caller; deleted → 403 tier', async () => {
    assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: 'u1', tier: 'explorer' } })).status, 201);
    const key = (await b.env.api('POST', '/v1/users/u1/keys', { body: {} })).body.key as string;
    const customer = await b.bindCustomer({ user_id: 'u1' });
    const now = Math.floor(Date.now() / 1000);
    const jwt = { authorization: `Bearer ${jwks.sign({ sub: 'u1', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 })}` };
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(`${sidecar}/v1/x`, { 'x-api-key': key })).status);
    assert.deepEqual(statuses, [...Array(11).fill(200), 429]);
    assert.match(String((await get(`${sidecar}/v1/x`, jwt)).headers['ratelimit-policy']), /^"explorer"/);

    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_professional_monthly' });
    assert.equal((await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.updated', sub))).status, 200);
    for (const [who, headers] of [
      ['key', { 'x-api-key': key }],
      ['jwt', jwt],
    ] as const) {
      await waitFor(
        async () => {
          const r = await get(`${sidecar}/v1/x`, headers);
          return r.status === 200 && String(r.headers['ratelimit-policy']).startsWith('"professional"') && up.seen.at(-1)?.['x-argus-tier'] === 'professional';
        },
        1000,
        `the ${who} caller professional at the sidecar within 1 s`,
      );
    }

    const gone = b.stripe.billing.setSubscription(customer, { status: 'canceled' });
    assert.equal((await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.deleted', gone))).status, 200);
    await waitFor(
      async () => {
        const r = await get(`${sidecar}/pro/x`, { 'x-api-key': key });
        return r.status === 403 && JSON.parse(r.body).error.code === 'ARGUS_TIER_REQUIRED';
      },
      1000,
      'the inactive tier refused by a tier route within 1 s',
    );
  });
});
