/**
 * Contract: every operation of docs/openapi.json is called through the SDK
 * (sdk/) against a spawned `control`, and answers what its types say: `data`
 * on success, `error` (the sidecar envelope) on refusal. A recording fetch
 * proves each operation was reached; retries happen only for retry-safe calls.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createArgusClient, type ArgusClient } from '../sdk/index.js';
import { startControlEnv, type ControlEnv } from './support/control.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const doc = JSON.parse(readFileSync(`${ROOT}docs/openapi.json`, 'utf8')) as { paths: Record<string, Record<string, { operationId: string }>> };

describe('SDK contract against a running control process', () => {
  let env: ControlEnv;
  let admin: ArgusClient;
  const calls: string[] = [];
  const recording: typeof fetch = async (input, init) => {
    const u = new URL(String(input));
    calls.push(`${init?.method ?? 'GET'} ${u.pathname}`);
    return fetch(input, init);
  };

  before(async () => {
    env = await startControlEnv();
    admin = createArgusClient({ baseUrl: env.url, apiKey: env.adminKey, fetch: recording });
  });
  after(() => env?.stop());

  it('calls every operation through the SDK', async () => {
    const ok = <T>(r: { data: T | null; error: unknown }): T => {
      assert.equal(r.error, null, JSON.stringify(r.error));
      return r.data as T;
    };
    const { identity, auth, billing, config } = admin;
    ok(
      await identity.createUser({ user_id: 'sdk1', tier: 'explorer', email: 'sdk1@example.com', features: ['predictions'] }, { idempotencyKey: 'create-sdk1' }),
    );
    // The same Idempotency-Key and body: the first answer again, no second user.
    assert.equal(
      ok(
        await identity.createUser(
          { user_id: 'sdk1', tier: 'explorer', email: 'sdk1@example.com', features: ['predictions'] },
          { idempotencyKey: 'create-sdk1' },
        ),
      ).user_id,
      'sdk1',
    );
    assert.equal((await identity.createUser({ user_id: 'sdk-other' }, { idempotencyKey: 'create-sdk1' })).error?.code, 'ARGUS_IDEMPOTENCY_KEY_REUSED');
    assert.equal(ok(await identity.getUser('sdk1')).tier, 'explorer');
    assert.ok(ok(await identity.listUsers({ tier: 'explorer', limit: 10 })).items.some((u) => u.user_id === 'sdk1'));
    assert.equal(ok(await identity.updateUser('sdk1', { name: 'S. D. K.' })).name, 'S. D. K.');
    const created = ok(await identity.createApiKey('sdk1', { scopes: ['sibyl:read'] }));
    assert.match(created.key!, /^ak_live_/);
    assert.equal(ok(await identity.listApiKeys('sdk1')).items.length, 1);
    assert.equal(ok(await identity.getApiKey(created.api_key.key_id)).scopes[0], 'sibyl:read');

    const v = ok(await auth.validateToken({ api_key: created.key! }));
    assert.equal(v.valid, true);
    assert.equal(v.context?.user_id, 'sdk1');
    assert.equal(ok(await auth.validateToken({ api_key: 'ak_live_nope' })).error?.code, 'ARGUS_INVALID_API_KEY');
    const ent = ok(await auth.checkEntitlements({ user_id: 'sdk1', features: ['predictions', 'backtests'], exchanges: ['binance'] }));
    assert.deepEqual(ent.features, { predictions: true, backtests: false });
    assert.equal(ent.tier, 'explorer');
    const session = ok(await auth.createSession({ user_id: 'sdk1', ttl_s: 600 }));
    const bySession = createArgusClient({ baseUrl: env.url, session: { header: session.header, value: session.value }, fetch: recording });
    assert.equal(ok(await bySession.me.get()).user_id, 'sdk1');

    const user = createArgusClient({ baseUrl: env.url, apiKey: created.key!, fetch: recording });
    assert.deepEqual(ok(await user.me.putPreferences({ theme: 'dark' })), { theme: 'dark' });
    assert.deepEqual(ok(await user.me.getPreferences()), { theme: 'dark' });
    const mine = ok(await user.me.createApiKey({}));
    assert.equal(ok(await user.me.listApiKeys()).items.length, 2);
    assert.equal(ok(await user.me.revokeApiKey(mine.api_key.key_id)).status, 'revoked');
    assert.equal(ok(await billing.getUsage({ user_id: 'sdk1', period: 'month' })).items.length, 0);
    assert.deepEqual(ok(await admin.audit.listAuthEvents({ user: 'sdk1', limit: 10 })), { items: [], next_cursor: null });
    assert.equal((await admin.audit.listAuthEvents({ from: 'yesterday' })).error?.code, 'ARGUS_INVALID_REQUEST');
    // Billing without Stripe configured (test/control-billing-*.test.ts run it against the Stripe stand-in).
    assert.equal(ok(await billing.getSubscription({ user_id: 'sdk1' })).subscriptions.length, 0);
    const urls = { success_url: 'https://app.example/ok', cancel_url: 'https://app.example/no' };
    assert.equal((await billing.createCheckoutSession({ plan: 'explorer', ...urls })).error?.code, 'ARGUS_NOT_CONFIGURED');
    assert.equal((await billing.createPortalSession({ return_url: 'https://app.example/' })).error?.code, 'ARGUS_NOT_CONFIGURED');
    assert.equal((await billing.syncSubscription({})).error?.code, 'ARGUS_NOT_CONFIGURED');
    assert.equal((await billing.recordUsage({ events: [{ id: 'e1', kind: 'request', user_id: 'sdk1' }] })).error?.code, 'ARGUS_DEPENDENCY_UNAVAILABLE');
    assert.ok(ok(await config.listTiers()).items.some((t) => t.name === 'explorer' && t.requests_per_minute === 100));
    assert.ok(Array.isArray(ok(await config.listFeatures()).items));
    assert.ok(ok(await config.getRateLimits()).tiers.length >= 4);

    const org = ok(await user.identity.createOrg({ org_id: 'org_sdk', name: 'SDK Inc' }));
    assert.equal(ok(await user.identity.getOrg(org.org_id)).name, 'SDK Inc');
    assert.equal(ok(await identity.updateOrg(org.org_id, { tier: 'business' })).tier, 'business');
    ok(await identity.createUser({ user_id: 'sdk2', email: 'sdk2@example.com' }));
    ok(await user.identity.addOrgMember(org.org_id, { user_id: 'sdk2', role: 'member' }));
    assert.equal(ok(await user.identity.updateOrgMember(org.org_id, 'sdk2', { role: 'admin' })).role, 'admin');
    assert.equal(ok(await user.identity.listOrgMembers(org.org_id)).items.length, 2);
    ok(await user.identity.removeOrgMember(org.org_id, 'sdk2'));
    const inv = ok(await user.identity.createInvitation(org.org_id, { email: 'sdk2@example.com' }));
    assert.equal(ok(await user.identity.listInvitations(org.org_id)).items.length, 1);
    assert.equal(ok(await user.identity.cancelInvitation(org.org_id, inv.invitation.invitation_id)).status, 'cancelled');
    const inv2 = ok(await user.identity.createInvitation(org.org_id, { email: 'sdk2@example.com' }));
    const sdk2Key = ok(await identity.createApiKey('sdk2')).key!;
    const sdk2 = createArgusClient({ baseUrl: env.url, apiKey: sdk2Key, fetch: recording });
    assert.equal(ok(await sdk2.identity.acceptInvitation(inv2.token!)).role, 'member');

    assert.equal(ok(await identity.revoke({ kind: 'session', id: session.session_id })).kind, 'session');
    assert.equal((await bySession.me.get()).error?.code, 'ARGUS_REVOKED');
    assert.equal(ok(await identity.revokeApiKey(created.api_key.key_id)).status, 'revoked');
    assert.equal(ok(await identity.deleteUser('sdk2')).status, 'deleted');
    assert.equal((await identity.getUser('nobody')).error?.code, 'ARGUS_NOT_FOUND');

    const missing: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      const re = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(item)) {
        const reached = calls.some((c) => {
          const [m, p] = c.split(' ');
          return m === method.toUpperCase() && re.test(p!);
        });
        if (!reached) missing.push(op.operationId);
      }
    }
    assert.deepEqual(missing, [], 'operations never called through the SDK');
  });

  it('retries only retry-safe calls; times out with ARGUS_SDK_TIMEOUT', async () => {
    let hits = 0;
    const flaky = createServer((req, res) => {
      hits++;
      req.resume();
      if (req.url === '/v1/slow') return; // never answers
      res
        .writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' })
        .end('{"error":{"code":"ARGUS_DEPENDENCY_UNAVAILABLE","message":"x","request_id":"r"}}');
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    const c = createArgusClient({ baseUrl: base, apiKey: 'k', retries: 2, timeoutMs: 300 });
    try {
      assert.equal((await c.identity.getUser('x')).error?.code, 'ARGUS_DEPENDENCY_UNAVAILABLE');
      assert.equal(hits, 3, 'a GET is tried 1 + 2 times');
      hits = 0;
      assert.equal((await c.identity.createUser({ user_id: 'x' })).status, 503);
      assert.equal(hits, 1, 'a create without an Idempotency-Key is never retried');
      hits = 0;
      await c.identity.createUser({ user_id: 'x' }, { idempotencyKey: 'k1' });
      assert.equal(hits, 3, 'with an Idempotency-Key it is');
      const slow = createArgusClient({ baseUrl: `${base}/v1/slow#`, retries: 0, timeoutMs: 200 });
      assert.equal((await slow.config.listTiers()).error?.code, 'ARGUS_SDK_TIMEOUT');
    } finally {
      flaky.closeAllConnections();
      flaky.close();
    }
  });
});
