/**
 * Outcome: an invitation makes one membership and one audit row, however it
 * is accepted: twice in a row, or twice at once. Another user holding the
 * token gets 409 ARGUS_INVITATION_USED; an expired one 410; a second pending
 * invitation for the same org and email 409. Spawned `control`, real Postgres.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startControlEnv, type ControlEnv } from './support/control.js';

describe('org invitations', () => {
  let env: ControlEnv;
  const keys: Record<string, string> = {};
  const count = async (sql: string, args: unknown[]) => Number((await env.db.pool.query(sql, args)).rows[0].n);

  before(async () => {
    env = await startControlEnv();
    for (const id of ['owner', 'u2', 'u3', 'u4']) {
      assert.equal((await env.api('POST', '/v1/users', { body: { user_id: id, email: `${id}@example.com` } })).status, 201);
      keys[id] = (await env.api('POST', `/v1/users/${id}/keys`, { body: {} })).body.key;
    }
    assert.equal((await env.api('POST', '/v1/orgs', { key: keys['owner']!, body: { org_id: 'org_inv', name: 'Inv' } })).status, 201);
  });
  after(() => env?.stop());

  const invite = async (email: string) => {
    const r = await env.api('POST', '/v1/orgs/org_inv/invitations', { key: keys['owner']!, body: { email, role: 'member' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.token, /^inv_/);
    return r.body as { token: string; invitation: { invitation_id: string } };
  };
  const accept = (who: string, token: string) => env.api('POST', '/v1/invitations/accept', { key: keys[who]!, body: { token } });

  it('accepted twice in a row: one membership, one audit row', async () => {
    const { token } = await invite('u2@example.com');
    const stored = (await env.db.pool.query('SELECT token_sha256 FROM org_invitations')).rows[0].token_sha256 as string;
    assert.notEqual(stored, token, 'only the digest is stored');
    const first = await accept('u2', token);
    const second = await accept('u2', token);
    assert.equal(first.status, 201);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, first.body);
    assert.equal(await count(`SELECT count(*) AS n FROM org_members WHERE org_id = 'org_inv' AND user_id = 'u2'`, []), 1);
    assert.equal(await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'invitation.accept' AND actor = 'u2'`, []), 1);
  });

  it('accepted twice at once: one membership, one audit row', async () => {
    const { token } = await invite('u3@example.com');
    const both = await Promise.all([accept('u3', token), accept('u3', token)]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 201]);
    assert.equal(await count(`SELECT count(*) AS n FROM org_members WHERE org_id = 'org_inv' AND user_id = 'u3'`, []), 1);
    assert.equal(await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'invitation.accept' AND actor = 'u3'`, []), 1);
  });

  it('someone else with a used token: 409 ARGUS_INVITATION_USED', async () => {
    const { token } = await invite('u4@example.com');
    assert.equal((await accept('u4', token)).status, 201);
    const r = await accept('u2', token);
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'ARGUS_INVITATION_USED');
  });

  it('a second pending invitation for one email: 409; after cancelling, a new one works', async () => {
    const first = await invite('new@example.com');
    const dup = await env.api('POST', '/v1/orgs/org_inv/invitations', { key: keys['owner']!, body: { email: 'NEW@example.com' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'ARGUS_CONFLICT');
    const cancelled = await env.api('DELETE', `/v1/orgs/org_inv/invitations/${first.invitation.invitation_id}`, { key: keys['owner']! });
    assert.equal(cancelled.body.status, 'cancelled');
    await invite('new@example.com');
  });

  it('expired: 410 ARGUS_INVITATION_EXPIRED, no membership', async () => {
    const { token, invitation } = await invite('late@example.com');
    await env.db.pool.query(`UPDATE org_invitations SET expires_at = now() - interval '1 second' WHERE invitation_id = $1`, [invitation.invitation_id]);
    await env.api('POST', '/v1/users', { body: { user_id: 'late', email: 'late@example.com' } });
    const lateKey = (await env.api('POST', '/v1/users/late/keys', { body: {} })).body.key;
    const r = await env.api('POST', '/v1/invitations/accept', { key: lateKey, body: { token } });
    assert.equal(r.status, 410);
    assert.equal(r.body.error.code, 'ARGUS_INVITATION_EXPIRED');
    assert.equal(await count(`SELECT count(*) AS n FROM org_members WHERE user_id = 'late'`, []), 0);
  });

  it('the member list shows who joined', async () => {
    const r = await env.api('GET', '/v1/orgs/org_inv/members', { key: keys['u2']! });
    assert.equal(r.status, 200);
    assert.deepEqual((r.body.items as Array<{ user_id: string; role: string }>).map((m) => `${m.user_id}:${m.role}`).sort(), [
      'owner:owner',
      'u2:member',
      'u3:member',
      'u4:member',
    ]);
  });
});
