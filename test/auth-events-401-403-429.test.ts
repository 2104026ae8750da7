/**
 * The auth event stream through real processes: a proxy publishing to Redis, an
 * `argus-sidecar worker` writing the `auth_events` table, and the
 * `argus-sidecar auth-events` listing reading it. A 401, a 403 and a 429 each
 * produce one event with the right code; `revoke --user` produces one event per
 * WebSocket session it closed, plus the revocation itself; a tier change is one
 * event. Keys and tokens never appear in the table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { until } from './support/auth-harness.js';
import { get } from './support/http.js';
import { meterFixture, rawConfig, SHARED_REDIS, spawnWorker, waitFor, writeConfig, type WorkerProcess } from './support/meter-env.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { runCli } from './support/spawn.js';
import { connectWs, startWsUpstream, type WsUpstream } from './support/ws-upstream.js';

interface Row {
  kind: string;
  code: string;
  status: number | null;
  user_id: string | null;
  credential_id: string | null;
  route: string | null;
  sidecar: string;
  request_id: string | null;
}

describe('auth events: refusals, kill switch, tier changes → auth_events', () => {
  const fx = meterFixture();
  let redis: Redis;
  let up: WsUpstream;
  let proxy: TestProxy;
  let worker: WorkerProcess;
  let file: string;
  const explorer = generateApiKey();
  const wsKey = generateApiKey();
  const started = Date.now();

  const list = async (...args: string[]): Promise<Row[]> => {
    const r = await runCli(['auth-events', ...args, '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Row);
  };

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    up = await startWsUpstream();
    for (const [k, user, tier] of [
      [explorer, 'u_explorer', 'explorer'],
      [wsKey, 'u_ws', 'business'],
    ] as const)
      await projectKey(redis, fx.prefix, k.sha256, { key_id: k.key_id, user_id: user, tier, scopes: [], features: [], status: 'active' });
    const raw: Record<string, unknown> = {
      ...rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue: fx.queue, prefix: fx.prefix, spoolDir: fx.tmp.dir }),
      metering: { enabled: false, queue: fx.queue },
      upstream: { url: up.url },
      auth: { cold: { client_failures_per_minute: 0 } },
      tiers: { explorer: { requests_per_minute: 1, burst: 0 } },
      routes: [
        { path: '/pro/*', auth: 'required', tier: 'professional' },
        { path: '/ws/*', auth: 'required', websocket: { heartbeat_ms: 60000 } },
        { path: '/*', auth: 'required' },
      ],
      observability: { auth_events: { enabled: true, stream: 'auth-events' } },
    };
    file = writeConfig(fx.tmp.dir, raw);
    worker = spawnWorker(file);
    await worker.started;
    const { metering: _m, log: _l, admin: _a, ...forProxy } = raw;
    proxy = await startTestProxy(forProxy);
  });
  after(async () => {
    await proxy?.stop();
    worker?.proc.kill('SIGTERM');
    await worker?.exited;
    await up.close();
    redis.disconnect();
  });

  it('a 401, a 403 and a 429 each become one event with their code', async () => {
    assert.equal((await get(`${proxy.url}/v1/x`, { 'x-api-key': 'ak_live_' + 'x'.repeat(40) })).status, 401);
    assert.equal((await get(`${proxy.url}/pro/x`, { 'x-api-key': explorer.key })).status, 403);
    assert.equal((await get(`${proxy.url}/v1/y`, { 'x-api-key': explorer.key })).status, 200);
    const limited = await get(`${proxy.url}/v1/y`, { 'x-api-key': explorer.key });
    assert.equal(limited.status, 429);

    const rows = await waitFor('three refusals in auth_events', async () => {
      const r = await list('--kind', 'refusal', '--from', String(started), '--to', new Date(Date.now() + 60000).toISOString());
      return r.length >= 3 ? r : undefined;
    });
    assert.equal(rows.length, 3, JSON.stringify(rows));
    const byStatus = new Map(rows.map((r) => [r.status, r]));
    assert.match(byStatus.get(401)!.code, /^ARGUS_/);
    assert.equal(byStatus.get(401)!.user_id, null);
    assert.equal(byStatus.get(403)!.code, 'ARGUS_TIER_REQUIRED');
    assert.equal(byStatus.get(403)!.user_id, 'u_explorer');
    assert.equal(byStatus.get(403)!.credential_id, explorer.key_id);
    assert.equal(byStatus.get(403)!.route, '/pro/*');
    assert.equal(byStatus.get(429)!.code, 'ARGUS_RATE_LIMITED');
    assert.equal(byStatus.get(429)!.request_id, limited.headers['x-request-id']);
    for (const r of rows) assert.ok(r.sidecar.length > 0);
    // --user narrows to the user; a window before the events holds none of them.
    assert.deepEqual((await list('--user', 'u_explorer', '--kind', 'refusal')).map((r) => r.status).sort(), [403, 429]);
    assert.equal((await list('--to', String(started - 1))).length, 0);
    const all = JSON.stringify(await list());
    assert.ok(!all.includes(explorer.key) && !all.includes('x'.repeat(40)), 'no credential in the table');
  });

  it('revoke --user: one event per closed WebSocket session, plus the revocation', async () => {
    const url = `${proxy.url.replace('http', 'ws')}/ws/feed`;
    const sessions = await Promise.all([1, 2].map(() => connectWs(url, [], { headers: { 'x-api-key': wsKey.key } })));
    await until(() => up.upgrades.length >= 2, 'both sessions upstream');
    const r = await runCli(['revoke', '--user', 'u_ws', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    for (const s of sessions) assert.equal((await s.closed).code, 4403);
    const closes = await waitFor('two ws_close events', async () => {
      const rows = await list('--user', 'u_ws', '--kind', 'ws_close');
      return rows.length >= 2 ? rows : undefined;
    });
    assert.equal(closes.length, 2);
    for (const c of closes) {
      assert.equal(c.code, 'WS_4403');
      assert.equal(c.route, '/ws/*');
      assert.equal(c.credential_id, wsKey.key_id);
    }
    assert.equal(new Set(closes.map((c) => c.request_id)).size, 2);
    const revocations = await waitFor('the revocation event', async () => {
      const rows = await list('--user', 'u_ws', '--kind', 'revocation');
      return rows.length ? rows : undefined;
    });
    assert.equal(revocations.length, 1);
    assert.equal(revocations[0]!.code, 'REVOKE_USER');
  });

  it('users set --tier: one tier_change event with the old and new tier', async () => {
    for (const tier of ['explorer', 'business']) {
      const r = await runCli(['users', 'set', '--user', 'u_tiered', '--tier', tier, '--config', file]);
      assert.equal(r.code, 0, r.stderr);
    }
    const rows = await waitFor('two tier changes', async () => {
      const r = await list('--user', 'u_tiered', '--kind', 'tier_change');
      return r.length >= 2 ? r : undefined;
    });
    assert.deepEqual(
      rows.map((r) => (r as unknown as { detail: unknown }).detail),
      [
        { from: '', to: 'explorer' },
        { from: 'explorer', to: 'business' },
      ],
    );
  });
});
