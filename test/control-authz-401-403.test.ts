/**
 * Outcome: the control API refuses exactly as issue 24 asks. No credential →
 * 401; a non-admin key → 403 on /v1/users; u1 reads /v1/me but gets 403 on
 * /v1/users/u2; an admin of org A cannot manage org B; every successful
 * mutation leaves exactly one audit row naming the actor. Real Postgres,
 * Redis and a spawned `argus-sidecar control`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditRows, startControlEnv, type ControlEnv } from './support/control.js';

describe('control API authorization', () => {
  let env: ControlEnv;
  let u1Key: string;
  let u2Key: string;

  before(async () => {
    env = await startControlEnv();
    for (const id of ['u1', 'u2'])
      assert.equal((await env.api('POST', '/v1/users', { body: { user_id: id, tier: 'explorer', email: `${id}@example.com` } })).status, 201);
    u1Key = (await env.api('POST', '/v1/users/u1/keys', { body: {} })).body.key;
    u2Key = (await env.api('POST', '/v1/users/u2/keys', { body: {} })).body.key;
  });
  after(() => env?.stop());

  it('no credential: 401 ARGUS_UNAUTHENTICATED in the sidecar envelope', async () => {
    const r = await env.api('GET', '/v1/users', { key: null });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ARGUS_UNAUTHENTICATED');
    assert.equal(typeof r.body.error.request_id, 'string');
  });

  it('an unknown key: 401 ARGUS_INVALID_API_KEY', async () => {
    const r = await env.api('GET', '/v1/me', { key: 'ak_live_0000000000000000000000000000000000000000000' });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ARGUS_INVALID_API_KEY');
  });

  it('a non-admin key: 403 on /v1/users (list, get, create, update)', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/users'],
      ['GET', '/v1/users/u2'],
      ['POST', '/v1/users', { user_id: 'u9' }],
      ['PATCH', '/v1/users/u1', { tier: 'enterprise' }],
      ['POST', '/v1/revocations', { kind: 'user', id: 'u2' }],
      ['POST', '/v1/auth/validate', { api_key: u2Key }],
      ['POST', '/v1/sessions', { user_id: 'u1' }],
    ] as const) {
      const r = await env.api(method, path, { key: u1Key, ...(body && { body }) });
      assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'ARGUS_FORBIDDEN');
    }
  });

  it('u1 reads /v1/me and its own keys, never u2', async () => {
    const me = await env.api('GET', '/v1/me', { key: u1Key });
    assert.equal(me.status, 200);
    assert.equal(me.body.user_id, 'u1');
    assert.equal((await env.api('GET', '/v1/me/keys', { key: u1Key })).body.items.length, 1);
    assert.equal((await env.api('GET', '/v1/users/u2', { key: u1Key })).status, 403);
    assert.equal((await env.api('GET', '/v1/users/u2/keys', { key: u1Key })).status, 403);
    assert.equal((await env.api('POST', '/v1/users/u2/keys', { key: u1Key, body: {} })).status, 403);
    assert.equal((await env.api('GET', '/v1/usage?user_id=u2', { key: u1Key })).status, 403);
    assert.equal((await env.api('POST', '/v1/entitlements/check', { key: u1Key, body: { user_id: 'u2' } })).status, 403);
    const u2keys = (await env.api('GET', '/v1/users/u2/keys')).body.items as Array<{ key_id: string }>;
    assert.equal((await env.api('DELETE', `/v1/keys/${u2keys[0]!.key_id}`, { key: u1Key })).status, 403);
    assert.equal((await env.api('DELETE', `/v1/me/keys/${u2keys[0]!.key_id}`, { key: u1Key })).status, 404);
    // A user may not mint themselves an admin key.
    assert.equal((await env.api('POST', '/v1/me/keys', { key: u1Key, body: { scopes: ['argus:admin'] } })).status, 403);
  });

  it('an admin of org A cannot manage org B', async () => {
    const a = await env.api('POST', '/v1/orgs', { key: u1Key, body: { org_id: 'org_a', name: 'A' } });
    assert.equal(a.status, 201);
    assert.equal((await env.api('POST', '/v1/orgs', { key: u2Key, body: { org_id: 'org_b', name: 'B' } })).status, 201);
    for (const [method, path, body] of [
      ['GET', '/v1/orgs/org_b'],
      ['PATCH', '/v1/orgs/org_b', { name: 'mine now' }],
      ['GET', '/v1/orgs/org_b/members'],
      ['POST', '/v1/orgs/org_b/members', { user_id: 'u1', role: 'admin' }],
      ['DELETE', '/v1/orgs/org_b/members/u2'],
      ['POST', '/v1/orgs/org_b/invitations', { email: 'x@example.com' }],
      ['GET', '/v1/orgs/org_b/invitations'],
    ] as const) {
      const r = await env.api(method, path, { key: u1Key, ...(body && { body }) });
      assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
    }
    // Org owners do not set their own tier.
    assert.equal((await env.api('PATCH', '/v1/orgs/org_a', { key: u1Key, body: { tier: 'enterprise' } })).status, 403);
    assert.equal((await env.api('PATCH', '/v1/orgs/org_a', { key: u1Key, body: { name: 'A2' } })).status, 200);
  });

  it('validation failures are 400 ARGUS_INVALID_REQUEST naming the field', async () => {
    const r = await env.api('POST', '/v1/users', { body: { user_id: 'has space' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'ARGUS_INVALID_REQUEST');
    assert.match(r.body.error.message, /user_id/);
    const notJson = await fetch(`${env.url}/v1/users`, {
      method: 'POST',
      headers: { 'x-api-key': env.adminKey, 'content-type': 'application/json' },
      body: '{"user_id":',
    });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'ARGUS_INVALID_REQUEST');
  });

  it('every successful mutation left exactly one audit row naming its actor', async () => {
    const rows = await auditRows(env);
    const actions = rows.map((r) => `${r.actor} ${r.action} ${r.subject_id}`);
    // Bootstrap (CLI actor) + the mutations above; refused ones left nothing.
    const mine = actions.filter((a) => !a.startsWith('cli:'));
    assert.deepEqual(mine, [
      'admin user.create u1',
      'admin user.create u2',
      `admin key.create ${mine[2]!.split(' ')[2]}`,
      `admin key.create ${mine[3]!.split(' ')[2]}`,
      'u1 org.create org_a',
      'u2 org.create org_b',
      'u1 org.update org_a',
    ]);
    assert.equal(rows.filter((r) => r.actor.startsWith('cli:')).length, 2);
  });
});
