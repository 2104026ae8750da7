/**
 * Acceptance (issue 25) at a running sidecar:
 * - an org on Business: its member's key gets the business `RateLimit-Policy`
 *   within 1 s of the webhook; removed from the org, the member falls back to
 *   their own tier within 1 s;
 * - `customer.subscription.deleted` for u1 (Business, trading): u1's open trading
 *   WebSocket session is closed with the entitlement-change code (4409) within
 *   `heartbeat_ms` + 1 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startBillingEnv, waitForTier, type BillingEnv } from './support/billing-env.js';
import { SESSION_SECRET, writeRaw } from './support/control.js';
import { get } from './support/http.js';
import { startIdentityUpstream, type IdentityUpstream } from './support/identity-upstream.js';
import { waitFor } from './support/raw.js';
import { startCli, type StartedChild } from './support/spawn.js';

const HEARTBEAT_MS = 200;
const urls = { success_url: 'https://app.example/ok', cancel_url: 'https://app.example/no' };

describe('org plans and trading sessions follow subscriptions at the sidecar', () => {
  let b: BillingEnv;
  let up: IdentityUpstream;
  let proxy: StartedChild;
  let port = 0;
  const keys: Record<string, string> = {};

  before(async () => {
    up = await startIdentityUpstream();
    const routes = [{ path: '/healthz', auth: 'none' }, { path: '/ws/trading', trading: true, websocket: { heartbeat_ms: HEARTBEAT_MS } }, { path: '/*' }];
    b = await startBillingEnv({ upstream: up.url, extra: { routes } });
    proxy = startCli(['proxy', '--config', writeRaw({ ...b.env.raw, auth: { session: { secret: SESSION_SECRET }, cache: { ttl_ms: 60000 } } })]);
    port = Number((await proxy.waitForLog('proxy listening'))['port']);
    for (const id of ['owner1', 'm1', 'u1']) {
      assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: id, tier: 'explorer' } })).status, 201);
      keys[id] = (await b.env.api('POST', `/v1/users/${id}/keys`, { body: {} })).body.key;
    }
  });
  after(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await b?.stop();
    await up?.close();
  });

  const policy = async (key: string) => String((await get(`http://127.0.0.1:${port}/v1/x`, { 'x-api-key': key })).headers['ratelimit-policy']);

  it('org Business lifts the member within 1 s; removal drops it within 1 s', async () => {
    assert.match(await policy(keys['m1']!), /^"explorer"/);
    await b.env.api('POST', '/v1/orgs', { key: keys['owner1']!, body: { org_id: 'o1', name: 'Org One' } });
    await b.env.api('POST', '/v1/orgs/o1/members', { key: keys['owner1']!, body: { user_id: 'm1', role: 'member' } });
    const co = await b.env.api('POST', '/v1/billing/checkout', { key: keys['owner1']!, body: { plan: 'business', org_id: 'o1', ...urls } });
    assert.equal(co.status, 201);
    assert.equal((await b.stripe.billing.completeCheckout(co.body.session_id)).status, 200);
    await waitFor(async () => (await policy(keys['m1']!)).startsWith('"business"'), 1000, 'm1 business at the sidecar within 1 s');
    assert.equal((await b.env.api('DELETE', '/v1/orgs/o1/members/m1', { key: keys['owner1']! })).status, 200);
    await waitFor(async () => (await policy(keys['m1']!)).startsWith('"explorer"'), 1000, 'm1 back to explorer within 1 s');
    assert.match(await policy(keys['owner1']!), /^"business"/);
  });

  it('deleted: the open trading session is closed 4409 within heartbeat_ms + 1 s', async () => {
    const customer = await b.bindCustomer({ user_id: 'u1' });
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_business_monthly' });
    await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.created', sub));
    await waitForTier(b, 'u1', 'business');
    await waitFor(async () => (await policy(keys['u1']!)).startsWith('"business"'), 1000, 'u1 business at the sidecar');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/trading`, { headers: { 'x-api-key': keys['u1']! } });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_q, res) => reject(new Error(`status ${res.statusCode}`)));
      ws.once('error', reject);
    });
    const gone = b.stripe.billing.setSubscription(customer, { status: 'canceled' });
    assert.equal((await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.deleted', gone))).status, 200);
    await waitForTier(b, 'u1', 'none');
    const got = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), HEARTBEAT_MS + 1000).unref())]);
    assert.ok(got !== null, 'closed within heartbeat_ms + 1 s');
    assert.equal(got.code, 4409);
  });
});
