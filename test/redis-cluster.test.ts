/**
 * The sidecar on a real Redis Cluster (3 masters, 3 replicas, started by this
 * file on free ports): two proxies and a worker configured with `redis.cluster`.
 * The global limiter admits exactly the shared amount across both proxies; the
 * kill switch (`argus-sidecar revoke`, the real CLI) reaches both through cluster
 * pub/sub; every answered request lands in the Postgres ledger once, through the
 * BullMQ queue under its hash-tagged prefix; and when the master holding the
 * queue is killed (SIGKILL) and its replica takes over, no answered request is
 * missing from the ledger.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';
import { bullPrefix } from '../src/meter/queue.js';
import { createTestDb, rand, spawnWorker, tempDir, waitFor, writeConfig, type TestDb, type WorkerProcess } from './support/meter-env.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { runCli, writeConfig as writeYaml } from './support/spawn.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';
import { get } from './support/http.js';
import { startTestCluster, type TestCluster } from './support/redis-cluster.js';
import { stringifyYaml } from '../src/yaml.js';
import { parseConfig } from '../src/config.js';

describe('redis.cluster in the config', () => {
  const base = { upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/*', auth: 'none' }] };
  it('takes seed URLs instead of redis.url', () => {
    const cfg = parseConfig({ ...base, redis: { cluster: ['redis://a:7000', 'rediss://user:pw@b:7001'] } }, {});
    assert.deepEqual(cfg.redis?.cluster, ['redis://a:7000', 'rediss://user:pw@b:7001']);
    assert.equal(bullPrefix(cfg), '{argus:bull}');
    assert.equal(bullPrefix(parseConfig({ ...base, redis: { url: 'redis://a:6379' } }, {})), 'argus:bull');
  });
  it('refuses both, neither, and a node that is not a redis URL, naming the key', () => {
    assert.throws(() => parseConfig({ ...base, redis: { url: 'redis://a:6379', cluster: ['redis://a:7000'] } }, {}), /redis\.cluster: set exactly one/);
    assert.throws(() => parseConfig({ ...base, redis: { key_prefix: 'x:' } }, {}), /redis\.url: set exactly one/);
    assert.throws(() => parseConfig({ ...base, redis: { cluster: ['http://a:7000'] } }, {}), /redis\.cluster\[0\]: a node URL/);
    assert.throws(() => parseConfig({ ...base, redis: { cluster: [] } }, {}), /redis\.cluster/);
  });
});

describe('on a Redis Cluster', () => {
  const prefix = `argus-test-${rand()}:`;
  const queue = `usage-${rand()}`;
  const tmp = tempDir();
  const keys = { limited: generateApiKey(), metered: generateApiKey(), revoked: generateApiKey(), failover: generateApiKey() };
  let cluster: TestCluster;
  let redis: Redis;
  let db: TestDb;
  let up: RecordingUpstream;
  let worker: WorkerProcess;
  let common: Record<string, unknown>;
  const proxies: TestProxy[] = [];

  before(async () => {
    cluster = await startTestCluster();
    db = await createTestDb();
    up = await startUpstream();
    redis = createRedis({ cluster: cluster.urls }, { enableOfflineQueue: true });
    const users = { limited: 'rl-user', metered: 'meter-user', revoked: 'revoked-user', failover: 'failover-user' } as const;
    for (const [name, key] of Object.entries(keys) as Array<[keyof typeof keys, (typeof keys)['limited']]>) {
      await projectKey(redis, prefix, key.sha256, {
        key_id: key.key_id,
        user_id: users[name],
        tier: name === 'limited' ? 'tight' : 'wide',
        scopes: [],
        features: [],
        status: 'active',
      });
    }
    common = {
      redis: { cluster: cluster.urls, key_prefix: prefix },
      postgres: { url: db.url },
      upstream: { url: up.url },
      // One token a minute after a burst of 9: the test runs well inside the minute, so exactly 10 pass.
      tiers: { tight: { requests_per_minute: 1, burst: 9 }, wide: { requests_per_minute: 100000 } },
      // replicas: 1: a proxy on its local share would admit the whole limit itself (20 in all), so 10 proves the buckets are shared.
      ratelimit: { scope: 'global', replicas: 1, redis_timeout_ms: 3000 },
      // A long cache TTL: only a revocation explains a refusal.
      auth: { cache: { ttl_ms: 600000 } },
      routes: [{ path: '/*', auth: 'required' }],
    };
    const metering = (n: number) => ({
      queue,
      spool_dir: `${tmp.dir}/spool-${n}`,
      service: 'sibyl',
      flush_interval_ms: 5,
      ack_interval_ms: 200,
      queue_timeout_ms: 1000,
    });
    for (let i = 0; i < 2; i++) proxies.push(await startTestProxy({ ...common, metering: metering(i) }));
    worker = spawnWorker(writeConfig(tmp.dir, { ...common, metering: metering(9), log: { level: 'info' } }));
    await worker.started;
  });

  after(async () => {
    for (const p of proxies) await p.stop().catch(() => undefined);
    if (worker) {
      worker.proc.kill('SIGTERM');
      await worker.exited;
    }
    if (redis) await closeRedis(redis);
    await up?.close();
    await db?.drop();
    await cluster?.stop();
    tmp.remove();
  });

  const ledgerRows = async (userId: string) =>
    (
      await db.pool.query<{ rows: number; distinct: number }>(
        'SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct FROM usage_events WHERE user_id = $1',
        [userId],
      )
    ).rows[0]!;

  it('the queue keys share one slot under the hash-tagged prefix', () => {
    assert.equal(bullPrefix(proxies[0]!.cfg), `{${prefix}bull}`);
  });

  it('the global limit admits exactly 10 across both proxies', async () => {
    let allowed = 0;
    let limited = 0;
    for (let i = 0; i < 30; i++) {
      const r = await get(`${proxies[i % 2]!.url}/rl`, { 'x-api-key': keys.limited.key });
      if (r.status === 200) allowed++;
      else if (r.status === 429) limited++;
      else assert.fail(`unexpected ${r.status}: ${r.body}`);
    }
    assert.equal(allowed, 10);
    assert.equal(limited, 20);
  });

  it('revoke (the CLI, on the cluster) makes both proxies refuse a cached key', async () => {
    for (const p of proxies) assert.equal((await get(`${p.url}/x`, { 'x-api-key': keys.revoked.key })).status, 200);
    const cfgFile = writeYaml(stringifyYaml({ ...common, metering: { enabled: false } }));
    const r = await runCli(['revoke', '--key', keys.revoked.key_id, '--config', cfgFile]);
    assert.equal(r.code, 0, r.stderr);
    for (const p of proxies) {
      await waitFor('the proxy to refuse the revoked key', async () => (await get(`${p.url}/x`, { 'x-api-key': keys.revoked.key })).status === 401, 5000, 20);
    }
  });

  it('every answered request is in the ledger once', async () => {
    let answered = 0;
    for (let i = 0; i < 60; i++) if ((await get(`${proxies[i % 2]!.url}/m/${i}`, { 'x-api-key': keys.metered.key })).status === 200) answered++;
    assert.equal(answered, 60);
    const got = await waitFor('the ledger to hold every request', async () => {
      const c = await ledgerRows('meter-user');
      return c.rows >= answered ? c : undefined;
    });
    assert.deepEqual(got, { rows: answered, distinct: answered });
  });

  it('a master failover (SIGKILL) loses no answered request', async () => {
    const queueKey = `{${prefix}bull}:${queue}:id`;
    const victim = await cluster.masterOf(queueKey);
    let answered = 0;
    const send = async (i: number) => {
      const r = await get(`${proxies[i % 2]!.url}/f/${i}`, { 'x-api-key': keys.failover.key }).catch(() => null);
      if (r?.status === 200) answered++;
    };
    let i = 0;
    for (; i < 20; i++) await send(i);
    await cluster.kill(victim);
    const successor = cluster.failedOver(queueKey, victim);
    let done = false;
    void successor.finally(() => {
      done = true;
    });
    // Keep serving through the failover, then some more once the replica is master.
    while (!done) await send(i++);
    await successor;
    // Service resumes on the new master: 20 more answered (a fail-closed route may refuse while the health probe catches up).
    const target = answered + 20;
    await waitFor('20 answered requests after the failover', async () => {
      await send(i++);
      return answered >= target;
    });
    console.log(JSON.stringify({ failover: { victim, sent: i, answered } }));
    const got = await waitFor(
      'the ledger to hold every answered request',
      async () => {
        const c = await ledgerRows('failover-user');
        return c.rows >= answered ? c : undefined;
      },
      60000,
      200,
    );
    assert.deepEqual(got, { rows: answered, distinct: answered });
  });
});
