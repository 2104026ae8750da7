/**
 * Control-plane changes reach running sidecars: the writer replaces a user or org
 * projection (or a key record) and PUBLISHes `{kind, id, version}` on
 * `<prefix>auth:changes`; every sidecar evicts what the change touches and the
 * next request carries the new tier upstream and its RateLimit-Policy. API keys
 * take tier, features and entitlements from their owner's record (user, or org)
 * and keep their own scopes and rate override; a key without an owner record is
 * as before. A sidecar whose subscriber lost the message converges within the
 * cache TTL. Real Redis (random prefix), two real in-process proxies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { redisKeys } from '../src/authenticate/store.js';
import type { KeyRecord, UserRecord } from '../src/authenticate/records.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { SHARED_REDIS, dropPrefix, testPrefix, until } from './support/auth-harness.js';
import { get } from './support/http.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

const TTL_MS = 3000;

/** Poll a request-making condition every 50 ms (gentle on the rate limits) until true or the deadline. */
async function poll(cond: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('control-plane changes reach every sidecar', () => {
  const prefix = testPrefix('changes');
  const k = redisKeys(prefix);
  let redis: Redis;
  let up: RecordingUpstream;
  let a: TestProxy;
  let b: TestProxy;
  /** Pub/sub connections of sidecar b (found by starting it alone). */
  let bSubscribers: string[] = [];
  const userKey = generateApiKey();
  const orgKey = generateApiKey();
  const plainKey = generateApiKey();

  const keyRec = (key: { key_id: string }, rec: Partial<KeyRecord>): KeyRecord => ({
    key_id: key.key_id,
    user_id: 'u_cp1',
    tier: 'explorer',
    scopes: [],
    features: [],
    status: 'active',
    ...rec,
  });
  const setRecord = (name: string, rec: UserRecord) => redis.set(name, JSON.stringify(rec));
  const publish = (kind: 'user' | 'org' | 'key', id: string, version: number) => redis.publish(k.changes, JSON.stringify({ kind, id, version }));

  /** What the upstream saw for one request through `proxy` with `key`, and the RateLimit-Policy answered. */
  async function through(proxy: TestProxy, key: string): Promise<{ tier: string; features: string; scopes: string; policy: string }> {
    const r = await get(`${proxy.url}/echo`, { 'x-api-key': key });
    assert.equal(r.status, 200, r.body);
    const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    return {
      tier: h['x-argus-tier'] ?? '',
      features: h['x-argus-features'] ?? '',
      scopes: h['x-argus-scopes'] ?? '',
      policy: String(r.headers['ratelimit-policy']),
    };
  }

  const numsub = async () => ((await redis.call('PUBSUB', 'NUMSUB', k.changes)) as [string, number])[1];

  async function pubsubClients(): Promise<Map<string, string>> {
    const list = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const out = new Map<string, string>();
    for (const line of list.split('\n')) {
      const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
      // sub=2: subscribed to revocations and changes (this code), named as the auth subscriber.
      if (id !== undefined && / name=argus-auth-revocations /.test(line) && / sub=2 /.test(line)) out.set(id, line);
    }
    return out;
  }

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    up = await startUpstream();
    await projectKey(redis, prefix, userKey.sha256, keyRec(userKey, { scopes: ['sibyl:read'] }));
    await setRecord(k.user('u_cp1'), { tier: 'explorer' });
    await projectKey(redis, prefix, orgKey.sha256, keyRec(orgKey, { user_id: 'u_member', org_id: 'o_cp1', requests_per_minute: 6000 }));
    await setRecord(k.org('o_cp1'), { tier: 'business', features: ['predictions'] });
    // The member's own record is not the org key's owner record: it must not apply.
    await setRecord(k.user('u_member'), { tier: 'enterprise' });
    await projectKey(redis, prefix, plainKey.sha256, keyRec(plainKey, { user_id: 'u_plain', tier: 'professional', features: ['beta'] }));
    const raw = {
      upstream: { url: up.url },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: { cache: { ttl_ms: TTL_MS }, cold: { client_failures_per_minute: 0 } },
      tiers: {
        explorer: { requests_per_minute: 100, burst: 10 },
        professional: { requests_per_minute: 1000, burst: 200 },
        business: { requests_per_minute: 10000 },
      },
      routes: [{ path: '/*', auth: 'required' }],
    };
    const existing = await pubsubClients();
    // b runs two threads: each subscribes on its own connection and keeps its own cache.
    b = await startTestProxy({ ...raw, threads: 2 });
    // Its threads and the main thread's own authenticator (the admin feature check) subscribe.
    await until(async () => (await numsub()) === 3, "sidecar b's subscribers");
    bSubscribers = [...(await pubsubClients()).keys()].filter((id) => !existing.has(id));
    a = await startTestProxy(raw);
    await until(async () => (await numsub()) === 4, "a's subscriber too");
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await up?.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('a key takes its owner user record: explorer, then professional within 1 s of the change on both sidecars', async () => {
    for (const p of [a, b]) {
      const before = await through(p, userKey.key);
      assert.equal(before.tier, 'explorer');
      assert.match(before.policy, /"explorer";q=100;w=60/);
      assert.equal(before.scopes, 'sibyl:read');
    }
    await setRecord(k.user('u_cp1'), { tier: 'professional', scopes: ['owner:scope'] });
    assert.equal(await publish('user', 'u_cp1', 2), 4, 'a, and b (two threads and its main thread) subscribed');
    const t0 = Date.now();
    await Promise.all(
      [a, b].map((p) => poll(async () => (await through(p, userKey.key)).tier === 'professional', 'professional after the change', 1000 - (Date.now() - t0))),
    );
    for (const p of [a, b]) {
      // Fresh connections land on either thread of b: every one of them must have followed.
      for (let i = 0; i < 8; i++) {
        const now = await through(p, userKey.key);
        assert.equal(now.tier, 'professional');
        assert.match(now.policy, /"professional";q=1000;w=60/);
        assert.equal(now.scopes, 'sibyl:read', 'the key keeps its own scopes');
      }
    }
  });

  it('an org-owned key takes the org record (not its user): business, then enterprise after an org change; its own rate override stays', async () => {
    const first = await through(a, orgKey.key);
    assert.equal(first.tier, 'business');
    assert.equal(first.features, 'predictions');
    assert.match(first.policy, /"business";q=6000;w=60/, 'the key keeps its requests_per_minute override');
    await setRecord(k.org('o_cp1'), { tier: 'enterprise', features: ['predictions', 'llm'] });
    await publish('org', 'o_cp1', 2);
    const t0 = Date.now();
    await poll(async () => (await through(a, orgKey.key)).tier === 'enterprise', 'enterprise after the org change', 1000 - (Date.now() - t0));
    assert.equal((await through(a, orgKey.key)).features, 'predictions,llm');
  });

  it('a key without an owner record keeps its own tier and features; a key change replaces it within 1 s', async () => {
    const first = await through(a, plainKey.key);
    assert.deepEqual([first.tier, first.features], ['professional', 'beta']);
    await publish('user', 'u_plain', 1);
    assert.equal((await through(a, plainKey.key)).tier, 'professional', 'no owner record: the key record applies');
    await projectKey(redis, prefix, plainKey.sha256, keyRec(plainKey, { user_id: 'u_plain', tier: 'business', features: ['beta'] }));
    await publish('key', plainKey.key_id, 2);
    const t0 = Date.now();
    await poll(async () => (await through(a, plainKey.key)).tier === 'business', 'business after the key change', 1000 - (Date.now() - t0));
  });

  it('a sidecar whose subscriber lost the message converges within the cache TTL + 1 s', async () => {
    for (const p of [a, b]) assert.equal((await through(p, userKey.key)).tier, 'professional');
    assert.equal(bSubscribers.length, 3);
    // Kill b's subscriber and publish in one transaction: the message cannot reach b.
    const tx = redis.multi();
    for (const id of bSubscribers) tx.call('CLIENT', 'KILL', 'ID', id);
    tx.set(k.user('u_cp1'), JSON.stringify({ tier: 'business' }));
    tx.publish(k.changes, JSON.stringify({ kind: 'user', id: 'u_cp1', version: 3 }));
    const res = (await tx.exec()) ?? [];
    const t0 = Date.now();
    assert.equal(res.at(-1)?.[1], 1, 'only sidecar a received the change');
    await poll(async () => (await through(a, userKey.key)).tier === 'business', 'a follows at once', 1000);
    // Each thread of b cached the key at its own time: the sidecar has converged when every answer is the new one.
    const allBusiness = async () => {
      for (let i = 0; i < 6; i++) if ((await through(b, userKey.key)).tier !== 'business') return false;
      return true;
    };
    await poll(allBusiness, 'every thread of b converges by TTL', TTL_MS + 1000 - (Date.now() - t0));
    assert.match((await through(b, userKey.key)).policy, /"business";q=10000;w=60/);
  });
});
