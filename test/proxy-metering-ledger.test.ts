/**
 * Through the real proxy into the real ledger: a request becomes a `request` row
 * with its dimensions; an upstream's `x-argus-usage` report becomes rows and never
 * reaches the client; an LLM route adds one `llm` row with tokens and cost; and a
 * proxy stopped (SIGTERM) while Redis is down loses nothing: its spooled events
 * land once a proxy starts again with Redis back.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/index.js';
import { startLlmProvider, type StandInProvider } from './support/llm-provider.js';
import {
  createTestDb,
  obliterateQueue,
  privateRedis,
  rand,
  spawnWorker,
  tempDir,
  waitFor,
  writeConfig,
  SHARED_REDIS,
  type TestDb,
  type WorkerProcess,
} from './support/meter-env.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startCli } from './support/spawn.js';
import { request } from './support/http.js';

/** An app that reports its own usage on /predict and /trade. */
async function startReportingApp(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/predict')) res.setHeader('x-argus-usage', JSON.stringify({ kind: 'request', quantity: 3 }));
    if (req.url?.startsWith('/trade'))
      res.setHeader(
        'x-argus-usage',
        JSON.stringify([{ kind: 'trading', type: 'trade', exchange: 'binance', symbol: 'BTC-USD', quantity: 0.5, value_usd: 30000 }]),
      );
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('metering through the proxy', () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof startReportingApp>>;
  let provider: StandInProvider;
  let proxy: TestProxy;
  let worker: WorkerProcess;
  const queue = `proxy-meter-${rand()}`;
  // obliterateQueue cleans only prefixes of this shape (argus-test-<hex>:).
  const prefix = `argus-test-${rand()}:`;
  const tmp = tempDir();
  const key = generateApiKey();

  before(async () => {
    db = await createTestDb();
    app = await startReportingApp();
    provider = await startLlmProvider();
    const keyFile = `${tmp.dir}/keys.yaml`;
    (await import('node:fs')).writeFileSync(
      keyFile,
      `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: metered_user, tier: business, llm: { models: [gpt-4o-mini], model_tiers: [] } }\n`,
    );
    const common = {
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      postgres: { url: db.url },
      metering: { queue, spool_dir: `${tmp.dir}/spool`, service: 'sibyl', flush_interval_ms: 5 },
      auth: { api_keys: { file: keyFile } },
      llm: { prices: { openai: { 'gpt-4o-mini': { input_per_mtok: 1, output_per_mtok: 2 } } } },
    };
    proxy = await startTestProxy({
      ...common,
      upstream: { url: app.url },
      routes: [
        { path: '/v1/chat/completions', auth: 'required', llm: { provider: 'openai' } },
        { path: '/*', auth: 'required' },
      ],
    });
    worker = spawnWorker(
      writeConfig(tmp.dir, {
        ...common,
        upstream: { url: app.url },
        routes: [{ path: '/*', auth: 'none' }],
        admin: { host: '127.0.0.1', port: 0 },
        log: { level: 'info' },
      }),
    );
    await worker.started;
  });
  after(async () => {
    await proxy.stop();
    worker.proc.kill('SIGTERM');
    await worker.exited;
    await obliterateQueue(SHARED_REDIS, queue, prefix);
    await app.close();
    await provider.close();
    await db.drop();
    tmp.remove();
  });

  const rows = async (where: string, params: unknown[] = []) =>
    (await db.pool.query(`SELECT * FROM usage_events WHERE ${where} ORDER BY occurred_at`, params)).rows as Array<Record<string, unknown>>;

  it('a request becomes one ledger row with its dimensions', async () => {
    const r = await request(`${proxy.url}/v1/things?x=1`, {
      method: 'POST',
      headers: { 'x-api-key': key.key, 'x-request-id': 'client-chosen-id' },
      body: 'hello',
    });
    assert.equal(r.status, 200);
    const row = await waitFor('request row', async () => (await rows(`kind = 'request' AND request_id = 'client-chosen-id'`))[0]);
    assert.equal(row['user_id'], 'metered_user');
    assert.equal(row['key_id'], key.key_id);
    assert.equal(row['route'], '/*');
    assert.equal(row['method'], 'POST');
    assert.equal(row['status'], 200);
    assert.equal(Number(row['bytes_in']), 5);
    assert.equal(Number(row['bytes_out']), 2);
    assert.equal(row['service'], 'sibyl');
    assert.equal(Number(row['quantity']), 1);
  });

  it('the same client request id twice is two events (ids come from the sidecar)', async () => {
    await request(`${proxy.url}/again`, { headers: { 'x-api-key': key.key, 'x-request-id': 'reused-id' } });
    await request(`${proxy.url}/again`, { headers: { 'x-api-key': key.key, 'x-request-id': 'reused-id' } });
    await waitFor('two rows', async () => ((await rows(`request_id = 'reused-id'`)).length === 2 ? true : undefined));
  });

  it("meters the upstream's x-argus-usage report and strips it from the response", async () => {
    const p = await request(`${proxy.url}/predict/1`, { headers: { 'x-api-key': key.key, 'x-request-id': 'predict-1' } });
    assert.equal(p.headers['x-argus-usage'], undefined);
    const t = await request(`${proxy.url}/trade/1`, { headers: { 'x-api-key': key.key, 'x-request-id': 'trade-1' } });
    assert.equal(t.headers['x-argus-usage'], undefined);
    const predict = await waitFor('predict row', async () => (await rows(`request_id = 'predict-1'`))[0]);
    assert.equal(Number(predict['quantity']), 3);
    const trade = await waitFor('trade row', async () => (await rows(`request_id = 'trade-1' AND kind = 'trading'`))[0]);
    assert.equal(trade['exchange'], 'binance');
    assert.equal(Number(trade['value_usd']), 30000);
  });

  it('every LLM format, streamed or not, becomes one llm row with tokens, cost and flags', async () => {
    const llmProxy = await startTestProxy({
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      metering: { queue, spool_dir: `${tmp.dir}/spool-llm`, service: 'prism', flush_interval_ms: 5 },
      auth: { api_keys: { file: `${tmp.dir}/keys.yaml` } },
      llm: {
        prices: {
          openai: { 'gpt-4o-mini': { input_per_mtok: 1, output_per_mtok: 2 } },
          anthropic: { 'gpt-4o-mini': { input_per_mtok: 3, output_per_mtok: 4 } },
        },
      },
      upstream: { url: provider.url },
      routes: [
        { path: '/v1/chat/completions', auth: 'required', llm: { provider: 'openai', include_usage: true } },
        { path: '/v1/responses', auth: 'required', llm: { provider: 'openai', format: 'openai-responses' } },
        { path: '/v1/messages', auth: 'required', llm: { provider: 'anthropic' } },
      ],
    });
    const cases = [
      {
        id: 'llm-chat-stream',
        path: '/v1/chat/completions',
        provider: 'openai',
        price: [1, 2],
        body: { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      },
      {
        id: 'llm-chat',
        path: '/v1/chat/completions',
        provider: 'openai',
        price: [1, 2],
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      },
      { id: 'llm-responses-stream', path: '/v1/responses', provider: 'openai', price: [1, 2], body: { model: 'gpt-4o-mini', stream: true, input: 'hi' } },
      { id: 'llm-responses', path: '/v1/responses', provider: 'openai', price: [1, 2], body: { model: 'gpt-4o-mini', input: 'hi' } },
      {
        id: 'llm-anthropic-stream',
        path: '/v1/messages',
        provider: 'anthropic',
        price: [3, 4],
        body: { model: 'gpt-4o-mini', stream: true, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
      },
      {
        id: 'llm-anthropic',
        path: '/v1/messages',
        provider: 'anthropic',
        price: [3, 4],
        body: { model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
      },
    ];
    try {
      for (const c of cases) {
        const r = await request(`${llmProxy.url}${c.path}`, {
          method: 'POST',
          headers: { 'x-api-key': key.key, 'content-type': 'application/json', 'x-request-id': c.id },
          body: JSON.stringify(c.body),
        });
        assert.equal(r.status, 200, `${c.id}: ${r.body}`);
        const usage = provider.requests.at(-1)!.usage;
        const row = await waitFor(`${c.id} row`, async () => (await rows(`request_id = $1 AND kind = 'llm'`, [c.id]))[0]);
        assert.equal(row['provider'], c.provider, c.id);
        assert.equal(row['model'], 'gpt-4o-mini', c.id);
        assert.equal(Number(row['input_tokens']), usage.input, c.id);
        assert.equal(Number(row['output_tokens']), usage.output, c.id);
        assert.ok(Math.abs(Number(row['cost_usd']) - (usage.input * c.price[0]! + usage.output * c.price[1]!) / 1e6) < 1e-9, c.id);
        assert.equal(row['estimated'], false, c.id);
        assert.equal(row['partial'], false, c.id);
      }
    } finally {
      await llmProxy.stop();
    }
  });

  it('SIGTERM with Redis down: events are spooled, then land when a proxy runs with Redis back', async () => {
    const priv = await privateRedis();
    const spool = `${tmp.dir}/spool-sigterm`;
    const cfgOf = (redisUrl: string) =>
      writeConfig(tmp.dir, {
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        upstream: { url: app.url },
        redis: { url: redisUrl, key_prefix: prefix },
        postgres: { url: db.url },
        metering: { queue, spool_dir: spool, service: 'sibyl', flush_interval_ms: 5, queue_timeout_ms: 200, replay_interval_ms: 100 },
        routes: [{ path: '/*', auth: 'none' }],
      });
    const first = startCli(['proxy', '--config', cfgOf(priv.url)]);
    const port = (await first.waitForLog('proxy listening'))['port'] as number;
    await priv.kill();
    for (let i = 0; i < 20; i++) await request(`http://127.0.0.1:${port}/sig/${i}`, { headers: { 'x-request-id': `sig-${i}` } });
    first.child.kill('SIGTERM');
    assert.equal((await first.exited).code, 0);
    assert.equal((await rows(`request_id LIKE 'sig-%'`)).length, 0, 'nothing can have reached the ledger yet');
    // A new proxy on the same spool, with Redis reachable, replays what the first one spooled.
    const second = startCli(['proxy', '--config', cfgOf(SHARED_REDIS)]);
    await second.waitForLog('proxy listening');
    try {
      await waitFor('all 20 spooled events in the ledger', async () => ((await rows(`request_id LIKE 'sig-%'`)).length === 20 ? true : undefined), 30000);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
