/**
 * Outcome: what a proxy served is billed even when the proxy is killed with
 * SIGKILL, and even when Redis forgets the jobs it accepted. Real spawned
 * `proxy` and `worker` processes, a real Postgres schema, Redis (a private
 * redis-server where it is restarted empty).
 *
 * - kill -9 right after a 200 reached the client (the batch was not due for a
 *   minute): a proxy restarted on the same spool bills it, once;
 * - kill -9 mid-stream (an SSE LLM response, part delivered): the ledger ends
 *   with one `llm` row for it, partial, with the tokens of what was delivered,
 *   and one `request` row;
 * - Redis restarted empty after accepting every batch (no worker had run):
 *   every answered request ends in the ledger exactly once, and the spool empties.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { generateApiKey } from '../src/authenticate/index.js';
import { estimateTokens } from '../src/llm/usage/extractor.js';
import { segmentFiles } from '../src/meter/spool.js';
import { startLlmProvider, type StandInProvider } from './support/llm-provider.js';
import { SHARED_REDIS, meterFixture, privateRedis, spawnWorker, waitFor, writeConfig, type WorkerProcess } from './support/meter-env.js';
import { request } from './support/http.js';
import { startCli, type StartedChild } from './support/spawn.js';

const fx = meterFixture();
const key = generateApiKey();
let app: { url: string; close(): Promise<void> };
let provider: StandInProvider;
/** Resolves the pause the provider is in (mid-stream test). */
let releasePause: (() => void) | undefined;
let pauseAt = -1;

before(async () => {
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('served');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
  provider = await startLlmProvider({
    text: 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen',
    pause: (c) => (c.index === pauseAt ? new Promise<void>((r) => (releasePause = r)) : undefined),
  });
  writeFileSync(
    `${fx.tmp.dir}/keys.yaml`,
    `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: kill_user, tier: business, llm: { models: [gpt-4o-mini], model_tiers: [] } }\n`,
  );
});
after(async () => {
  releasePause?.();
  await app.close();
  await provider.close();
});

function proxyConfig(o: { redisUrl: string; spool: string; upstream: string; llm?: boolean; flushMs?: number }): string {
  return writeConfig(fx.tmp.dir, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    threads: 1,
    upstream: { url: o.upstream },
    redis: { url: o.redisUrl, key_prefix: fx.prefix },
    postgres: { url: fx.db.url },
    // By default a minute between batches: whatever is billed after a kill came from the spool.
    metering: { queue: fx.queue, spool_dir: o.spool, service: 'sibyl', flush_interval_ms: o.flushMs ?? 60000, ack_interval_ms: 100, queue_timeout_ms: 500 },
    auth: { api_keys: { file: `${fx.tmp.dir}/keys.yaml` } },
    llm: { prices: { openai: { 'gpt-4o-mini': { input_per_mtok: 1, output_per_mtok: 2 } } } },
    routes: o.llm
      ? [{ path: '/v1/chat/completions', auth: 'required', llm: { provider: 'openai', include_usage: true } }]
      : [{ path: '/*', auth: 'none', meter: true }],
    log: { level: 'info' },
  });
}

function workerConfig(redisUrl: string): string {
  return writeConfig(fx.tmp.dir, {
    admin: { host: '127.0.0.1', port: 0 },
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/*', auth: 'none' }],
    redis: { url: redisUrl, key_prefix: fx.prefix },
    postgres: { url: fx.db.url },
    metering: { queue: fx.queue, spool_dir: `${fx.tmp.dir}/unused`, worker: { lock_ms: 2000, stalled_interval_ms: 1000 } },
  });
}

async function startProxy(file: string): Promise<{ proc: StartedChild; port: number; admin: number }> {
  const proc = startCli(['proxy', '--config', file]);
  const rec = await proc.waitForLog('proxy listening', 30000);
  return { proc, port: rec['port'] as number, admin: rec['admin_port'] as number };
}

async function kill9(p: StartedChild): Promise<void> {
  p.child.kill('SIGKILL');
  assert.equal((await p.exited).signal, 'SIGKILL');
}

async function stop(p: StartedChild | WorkerProcess): Promise<void> {
  const child = 'child' in p ? p.child : p.proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await ('child' in p ? p.exited : p.exited);
}

async function rows(where: string, args: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  return (await fx.db.pool.query(`SELECT * FROM usage_events WHERE ${where}`, args)).rows;
}

async function metric(admin: number, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  return Number(new RegExp(`^argus_usage_events_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

test('proxy killed with SIGKILL right after a 200 reached the client: billed once after a restart', async (t) => {
  const spool = `${fx.tmp.dir}/spool-200`;
  const file = proxyConfig({ redisUrl: SHARED_REDIS, spool, upstream: app.url });
  const worker = spawnWorker(workerConfig(SHARED_REDIS));
  t.after(() => stop(worker));
  await worker.started;
  const first = await startProxy(file);
  const ids = ['after200-a', 'after200-b', 'after200-c'];
  for (const id of ids) assert.equal((await request(`http://127.0.0.1:${first.port}/p/${id}`, { headers: { 'x-request-id': id } })).status, 200);
  await kill9(first.proc);
  assert.equal((await rows(`request_id LIKE 'after200-%'`)).length, 0, 'the batch was not due yet: nothing reached the ledger before the kill');

  const second = await startProxy(file);
  t.after(() => stop(second.proc));
  await waitFor('the three answered requests in the ledger', async () => (await rows(`request_id LIKE 'after200-%'`)).length === 3, 30000, 100);
  await waitFor('spool emptied once acknowledged', () => segmentFiles(`${spool}/t0`).length === 0 || undefined, 20000, 100);
  const got = await rows(`request_id LIKE 'after200-%'`);
  assert.deepEqual(got.map((r) => r['request_id']).sort(), ids);
  assert.ok(got.every((r) => r['status'] === 200 && Number(r['quantity']) === 1));
});

test('proxy killed with SIGKILL mid-stream: one llm row, partial, with the delivered tokens', async (t) => {
  const spool = `${fx.tmp.dir}/spool-stream`;
  const file = proxyConfig({ redisUrl: SHARED_REDIS, spool, upstream: provider.url, llm: true });
  const worker = spawnWorker(workerConfig(SHARED_REDIS));
  t.after(() => stop(worker));
  await worker.started;
  const first = await startProxy(file);
  pauseAt = 6; // the provider stops before its 7th event

  // Read the stream as a client does, until the provider's pause: what arrived is what was delivered.
  let received = '';
  const req = http.request(
    `http://127.0.0.1:${first.port}/v1/chat/completions`,
    {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'x-api-key': key.key, 'x-request-id': 'midstream-1' },
    },
    (res) => res.on('data', (c: Buffer) => (received += c.toString())).on('error', () => undefined),
  );
  req.on('error', () => undefined);
  req.end(JSON.stringify({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count' }] }));
  await waitFor('the provider paused mid-stream', () => releasePause !== undefined, 15000, 20);
  const events = () => received.split('\n').filter((l) => l.startsWith('data: {'));
  await waitFor('6 events delivered to the client', () => events().length === 6, 15000, 20);
  await kill9(first.proc);
  const chars = events().reduce(
    (n, l) => n + ((JSON.parse(l.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content?.length ?? 0),
    0,
  );
  assert.ok(chars > 0, 'content was delivered');
  pauseAt = -1;
  releasePause?.();

  const second = await startProxy(file);
  t.after(() => stop(second.proc));
  const llm = await waitFor('the llm row', async () => (await rows(`request_id = 'midstream-1' AND kind = 'llm'`))[0], 30000, 100);
  await waitFor('the request row', async () => (await rows(`request_id = 'midstream-1' AND kind = 'request'`))[0], 30000, 100);
  assert.equal(llm['partial'], true);
  assert.equal(Number(llm['output_tokens']), estimateTokens(chars), `delivered ${chars} characters of content`);
  await waitFor('spool emptied once acknowledged', () => segmentFiles(`${spool}/t0`).length === 0 || undefined, 20000, 100);
  assert.equal((await rows(`request_id = 'midstream-1'`)).length, 2, 'one llm row and one request row, never a partial and a final');
});

test('Redis restarted empty after accepting every batch: each answered request lands in the ledger exactly once', async (t) => {
  const redis = await privateRedis();
  await redis.start();
  const spool = `${fx.tmp.dir}/spool-redis`;
  const proxy = await startProxy(proxyConfig({ redisUrl: redis.url, spool, upstream: app.url, flushMs: 5 }));
  let worker: WorkerProcess | undefined;
  // Stop the processes before their Redis goes away.
  t.after(async () => {
    if (worker) await stop(worker);
    await stop(proxy.proc);
    await redis.kill();
  });
  const N = 40;
  for (let i = 0; i < N; i++) {
    assert.equal((await request(`http://127.0.0.1:${proxy.port}/r/${i}`, { headers: { 'x-request-id': `forgot-${i}` } })).status, 200);
  }
  await waitFor('every batch accepted by Redis', async () => (await metric(proxy.admin, 'queued')) === N, 30000, 100);
  await redis.kill();
  await redis.start(); // empty: no persistence
  worker = spawnWorker(workerConfig(redis.url));
  await worker.started;
  await waitFor(`all ${N} in the ledger`, async () => (await rows(`request_id LIKE 'forgot-%'`)).length >= N, 60000, 100);
  await waitFor('spool emptied once acknowledged', () => segmentFiles(`${spool}/t0`).length === 0 || undefined, 30000, 100);
  const got = await rows(`request_id LIKE 'forgot-%'`);
  assert.equal(got.length, N);
  assert.equal(new Set(got.map((r) => r['request_id'])).size, N);
  assert.equal(await metric(proxy.admin, 'replayed'), N, 'the spool sent them again');
});
