/**
 * Re-projection runs once at a time across replicas and restores everything in
 * the projection's format. Before this there was no lock, no epoch and no user
 * table: two `keys sync` runs raced freely and user records could not be restored.
 * Real Postgres (schema per run) and a private redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { insertKey, recordRevocation } from '../src/identity-admin/keystore.js';
import { epochState, projectionKeys } from '../src/authenticate/projection.js';
import { reproject } from '../src/identity-admin/projection.js';
import { parseRecord, userRecordSchema } from '../src/authenticate/records.js';
import { redisKeys } from '../src/authenticate/store.js';
import { deleteUser, upsertUser } from '../src/identity-admin/userstore.js';
import { startPrivateRedis } from './support/auth-harness.js';
import { createTestDb, type TestDb } from './support/meter-env.js';

const prefix = 'proj1:';
let db: TestDb;
let priv: Awaited<ReturnType<typeof startPrivateRedis>>;
let a: Redis;
let b: Redis;

before(async () => {
  db = await createTestDb();
  priv = await startPrivateRedis();
  a = new Redis(priv.url);
  b = new Redis(priv.url);
});
after(async () => {
  a.disconnect();
  b.disconnect();
  await priv.kill();
  await db.drop();
});

test('two replicas at once: one runs, one finds the lock; deny state, keys and users come back as the proxy reads them', async () => {
  const keys = Array.from({ length: 50 }, () => generateApiKey());
  for (const [i, k] of keys.entries())
    await insertKey(db.pool, k.sha256, { key_id: k.key_id, user_id: `u${i}`, tier: 'explorer', scopes: [], features: [], status: 'active' });
  await recordRevocation(db.pool, 'user', 'u7', 1_700_000_000);
  await recordRevocation(db.pool, 'session', 'sess-old', 1_000_000); // long expired: not brought back
  await upsertUser(db.pool, 'u1', { tier: 'business', features: ['beta'], llm: { models: ['gpt-4o'], model_tiers: [], daily_token_budget: 1000 } });
  await upsertUser(db.pool, 'u2', { tier: 'professional' });
  await deleteUser(db.pool, 'u2');
  await a.set(redisKeys(prefix).user('u2'), '{"tier":"enterprise"}'); // a stale projection of a deleted user

  const [r1, r2] = await Promise.all([reproject(db.pool, a, prefix), reproject(db.pool, b, prefix)]);
  assert.deepEqual([r1.ran, r2.ran].sort(), [false, true], 'exactly one run');
  const done = r1.ran ? r1 : r2;
  assert.deepEqual([done.complete, done.keys, done.revocations, done.users], [true, 50, 2, 2]);
  assert.equal(epochState(await a.get(projectionKeys(prefix).epoch)), 'complete');
  assert.equal(await a.exists(projectionKeys(prefix).lock), 0, 'the lock is released');

  const k = redisKeys(prefix);
  assert.equal((await a.mget(keys.map((x) => k.key(x.sha256)))).filter((v) => v !== null).length, 50);
  assert.equal(await a.get(k.deny('user', 'u7')), '1700000000');
  assert.equal(await a.exists(k.deny('session', 'sess-old')), 0);
  assert.deepEqual(parseRecord(userRecordSchema, await a.get(k.user('u1'))), {
    tier: 'business',
    features: ['beta'],
    llm: { models: ['gpt-4o'], model_tiers: [], daily_token_budget: 1000 },
  });
  assert.equal(await a.exists(k.user('u2')), 0, 'a deleted user loses its projection');

  // A refresh over a complete epoch keeps it complete and swaps its id.
  const before = await a.get(projectionKeys(prefix).epoch);
  const again = await reproject(db.pool, b, prefix);
  assert.deepEqual([again.ran, again.complete], [true, true]);
  const afterwards = await a.get(projectionKeys(prefix).epoch);
  assert.notEqual(afterwards, before);
  assert.equal(epochState(afterwards), 'complete');
});
