/**
 * Outcome: a 401, a 403 and a 429 refused by a real sidecar become auth events
 * (Redis Stream → `argus-sidecar worker` → `auth_events`) that a spawned
 * `argus-sidecar control` serves at `GET /v1/auth-events`, with their codes,
 * filtered by user and time window, a page at a time. A caller without the
 * admin role reads only their own events and gets 403 for anyone else's; a bad
 * `from` or cursor is a 400 with ARGUS_INVALID_REQUEST.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startControlEnv, writeRaw, type ControlEnv } from './support/control.js';
import { get } from './support/http.js';
import { rand, rawConfig, SHARED_REDIS, spawnWorker, tempDir, waitFor, type WorkerProcess } from './support/meter-env.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

interface Event {
  event_id: string;
  occurred_at: string;
  kind: string;
  code: string;
  status: number | null;
  user_id: string | null;
  credential_id: string | null;
  route: string | null;
  request_id: string | null;
}

describe('GET /v1/auth-events: refusals through a real sidecar', () => {
  let env: ControlEnv;
  let up: RecordingUpstream;
  let proxy: TestProxy;
  let worker: WorkerProcess;
  let explorerKey: string;
  let explorerKeyId: string;
  const tmp = tempDir();
  /** After the warm-up (whose 401s, while the key was not yet projected, are not this test's). */
  let started = '';
  let ordered: string[] = [];
  const byStatus = new Map<number, Event>();

  const list = async (query: string, key?: string): Promise<{ status: number; body: any }> =>
    env.api('GET', `/v1/auth-events${query}`, key === undefined ? {} : { key });

  before(async () => {
    env = await startControlEnv();
    up = await startUpstream();
    assert.equal((await env.api('POST', '/v1/users', { body: { user_id: 'u_explorer', tier: 'explorer' } })).status, 201);
    const created = await env.api('POST', '/v1/users/u_explorer/keys', { body: {} });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    explorerKey = created.body.key;
    explorerKeyId = created.body.api_key.key_id;
    const authEvents = { auth_events: { enabled: true, stream: `auth-events-${rand()}` } };
    const workerRaw = {
      ...rawConfig({ redisUrl: SHARED_REDIS, pgUrl: env.db.url, queue: `usage-${rand()}`, prefix: env.prefix, spoolDir: tmp.dir }),
      metering: { enabled: false, queue: `usage-${rand()}`, worker: { admin: { host: '127.0.0.1', port: 0 } } },
      observability: authEvents,
    };
    worker = spawnWorker(writeRaw(workerRaw));
    await worker.started;
    proxy = await startTestProxy({
      upstream: { url: up.url },
      redis: { url: SHARED_REDIS, key_prefix: env.prefix },
      auth: { cold: { client_failures_per_minute: 0 } },
      tiers: { explorer: { requests_per_minute: 1, burst: 0 } },
      routes: [
        { path: '/pro/*', auth: 'required', tier: 'professional' },
        { path: '/*', auth: 'required' },
      ],
      observability: authEvents,
    });
    // The key reaches the sidecar through the control plane's projection: poll until it authenticates.
    await waitFor('the key projected', async () => ((await get(`${proxy.url}/v1/warm`, { 'x-api-key': explorerKey })).status === 200 ? true : undefined));
    started = new Date().toISOString();
  });
  after(async () => {
    await proxy?.stop();
    worker?.proc.kill('SIGTERM');
    await worker?.exited;
    await up?.close();
    await env?.stop();
    tmp.remove();
  });

  it('a 401, a 403 and a 429 are listed with their codes; user and time filters narrow them', async () => {
    assert.equal((await get(`${proxy.url}/v1/x`, { 'x-api-key': 'ak_live_' + 'x'.repeat(40) })).status, 401);
    assert.equal((await get(`${proxy.url}/pro/x`, { 'x-api-key': explorerKey })).status, 403);
    // The warm-up spent the minute's one request: the next one on a plain route is refused.
    const limited = await get(`${proxy.url}/v1/y`, { 'x-api-key': explorerKey });
    assert.equal(limited.status, 429);
    const to = new Date(Date.now() + 60000).toISOString();
    const window = `from=${encodeURIComponent(started)}&to=${encodeURIComponent(to)}`;
    const items = await waitFor('three refusals served', async () => {
      const r = await list(`?kind=refusal&${window}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.items.length >= 3 ? (r.body.items as Event[]) : undefined;
    });
    assert.equal(items.length, 3, JSON.stringify(items));
    for (const e of items) byStatus.set(e.status!, e);
    ordered = items.map((e) => e.event_id);
    assert.match(byStatus.get(401)!.code, /^ARGUS_/);
    assert.equal(byStatus.get(401)!.user_id, null);
    assert.equal(byStatus.get(403)!.code, 'ARGUS_TIER_REQUIRED');
    assert.equal(byStatus.get(403)!.user_id, 'u_explorer');
    assert.equal(byStatus.get(403)!.credential_id, explorerKeyId);
    assert.equal(byStatus.get(403)!.route, '/pro/*');
    assert.equal(byStatus.get(429)!.code, 'ARGUS_RATE_LIMITED');
    assert.equal(byStatus.get(429)!.request_id, limited.headers['x-request-id']);
    const times = items.map((e) => e.occurred_at);
    assert.deepEqual([...times].sort(), times, 'oldest first');

    const mine = await list(`?user=u_explorer&${window}`);
    assert.deepEqual(mine.body.items.map((e: Event) => e.status).sort(), [403, 429]);
    const earlier = await list(`?user=u_explorer&to=${encodeURIComponent(started)}`);
    assert.equal(earlier.status, 200);
    assert.equal(earlier.body.items.length, 0, 'a window before the refusals holds none of them');
    assert.ok(!JSON.stringify(items).includes(explorerKey), 'no credential in the events');
  });

  it('pages: limit=1 walks the three events by next_cursor, each once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const r = await list(`?kind=refusal&from=${encodeURIComponent(started)}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      seen.push(...r.body.items.map((e: Event) => e.event_id));
      cursor = r.body.next_cursor;
      if (cursor === null) break;
    }
    assert.deepEqual(seen, ordered);
    assert.equal(cursor, null, 'the last page has no cursor');
  });

  it('a user reads only their own events: 403 for anyone else', async () => {
    const own = await list('', explorerKey);
    assert.equal(own.status, 200);
    assert.ok(own.body.items.length >= 2);
    assert.ok(own.body.items.every((e: Event) => e.user_id === 'u_explorer'));
    const other = await list('?user=admin', explorerKey);
    assert.equal(other.status, 403);
    assert.equal(other.body.error.code, 'ARGUS_FORBIDDEN');
  });

  it('a bad from, a from after to, or a foreign cursor is a 400 ARGUS_INVALID_REQUEST', async () => {
    for (const q of ['?from=yesterday', '?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', '?cursor=bm90LWEtY3Vyc29y', '?limit=0']) {
      const r = await list(q);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.code, 'ARGUS_INVALID_REQUEST', q);
    }
  });
});
