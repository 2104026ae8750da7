/**
 * Outcome: a change committed but never projected (Redis refused it, or the
 * process died between commit and projection) reaches Redis anyway. Rows whose
 * `projected_version` is behind `version` are re-projected by the running
 * control process's reconciler and announced on `<prefix>auth:changes`; an
 * older write never overwrites a newer projection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { projectChange } from '../src/identity-admin/changes.js';
import type { UserRow } from '../src/identity-admin/userstore.js';
import { SHARED_REDIS } from './support/meter-env.js';
import { waitFor } from './support/raw.js';
import { startControlEnv, type ControlEnv } from './support/control.js';

describe('reconciler: committed but not projected', () => {
  let env: ControlEnv;
  let sub: Redis;
  const messages: Array<{ kind: string; id: string; version: number }> = [];

  before(async () => {
    env = await startControlEnv();
    sub = new Redis(SHARED_REDIS);
    sub.on('message', (_c: string, text: string) => messages.push(JSON.parse(text)));
    await sub.subscribe(`${env.prefix}auth:changes`);
    assert.equal((await env.api('POST', '/v1/users', { body: { user_id: 'r1', tier: 'explorer' } })).status, 201);
    assert.equal((await env.api('POST', '/v1/orgs', { body: { org_id: 'org_r', name: 'R', tier: 'business' } })).status, 201);
  });
  after(async () => {
    sub?.disconnect();
    await env?.stop();
  });

  it('a user row changed in Postgres only is projected and announced', async () => {
    // What a commit whose projection failed leaves behind.
    const row = (await env.db.pool.query(`UPDATE users SET tier = 'business', version = version + 1 WHERE user_id = 'r1' RETURNING version`)).rows[0];
    const version = Number(row.version);
    await waitFor(async () => JSON.parse((await env.redis.get(`${env.prefix}auth:user:r1`)) ?? '{}').tier === 'business', 10000, 'the reconciler');
    await waitFor(() => messages.some((m) => m.kind === 'user' && m.id === 'r1' && m.version === version), 5000, 'the change message');
    // The reconciler marks the row after it has projected and published it: wait for that commit too.
    const projected = async () => Number((await env.db.pool.query(`SELECT projected_version FROM users WHERE user_id = 'r1'`)).rows[0].projected_version);
    await waitFor(async () => (await projected()) === version, 5000, 'projected_version to catch up');
    assert.equal(await projected(), version);
  });

  it('an org row likewise (the record sidecars read for org keys)', async () => {
    await env.db.pool.query(`UPDATE orgs SET tier = 'enterprise', version = version + 1 WHERE org_id = 'org_r'`);
    await waitFor(async () => JSON.parse((await env.redis.get(`${env.prefix}auth:org:org_r`)) ?? '{}').tier === 'enterprise', 10000, 'the org projection');
  });

  it('an older row never overwrites a newer projection', async () => {
    const stale = (await env.db.pool.query<UserRow>(`SELECT * FROM users WHERE user_id = 'r1'`)).rows[0]!;
    assert.equal((await env.api('PATCH', '/v1/users/r1', { body: { tier: 'professional' } })).status, 200);
    assert.equal(await projectChange(env.redis, env.prefix, { kind: 'user', row: stale }), false);
    assert.equal(JSON.parse((await env.redis.get(`${env.prefix}auth:user:r1`))!).tier, 'professional');
  });
});
