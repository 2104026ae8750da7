/**
 * Prism through the real sidecar: the official openai client streams chat
 * completions chunk by chunk, usage is metered for every format, the body is
 * forwarded byte-identical, a client leaving mid-stream is drained or aborted per
 * route, models outside the caller's entitlements are 403, an exhausted daily
 * token budget is 429, and a quota route fails closed (503) without Redis.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { generateApiKey } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { SHARED_REDIS, dropPrefix, metricValue, startPrivateRedis, testPrefix } from './support/auth-harness.js';
import { startLlmProvider, type StandInProvider } from './support/llm-provider.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { post, errorCode as code, type HttpReply } from './support/http.js';

describe('LLM routes through the sidecar', () => {
  const prefix = testPrefix('llm-proxy');
  let redis: Redis;
  let provider: StandInProvider;
  let proxy: TestProxy;
  const key = generateApiKey();
  const poor = generateApiKey();

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    provider = await startLlmProvider();
    await projectKey(redis, prefix, key.sha256, {
      key_id: key.key_id,
      user_id: 'llm_user',
      tier: 'business',
      scopes: [],
      features: [],
      status: 'active',
      llm: { models: ['gpt-4o-mini', 'claude-3-5-haiku'], model_tiers: [], daily_token_budget: 1_000_000 },
    });
    await projectKey(redis, prefix, poor.sha256, {
      key_id: poor.key_id,
      user_id: 'llm_poor',
      tier: 'business',
      scopes: [],
      features: [],
      status: 'active',
      llm: { models: ['gpt-4o-mini'], model_tiers: [], daily_token_budget: 100 },
    });
    proxy = await startTestProxy({
      upstream: { url: provider.url },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      llm: { prices: { openai: { 'gpt-4o-mini': { input_per_mtok: 0.15, output_per_mtok: 0.6 } } } },
      routes: [
        { path: '/v1/chat/completions', auth: 'required', llm: { provider: 'openai', include_usage: true } },
        { path: '/v1/responses', auth: 'required', llm: { provider: 'openai', format: 'openai-responses', on_client_abort: 'abort' } },
        { path: '/v1/messages', auth: 'required', llm: { provider: 'anthropic' } },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    await provider.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  // Prism's callers pass their Argus key as the OpenAI API key (Authorization: Bearer ak_…).
  const client = () => new OpenAI({ apiKey: key.key, baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const tokens = (direction: string, provider = 'openai') => metricValue(proxy.metrics.registry, 'argus_llm_tokens_total', { provider, direction });

  it('streams chat completions chunk by chunk to the openai client and meters the usage', async () => {
    const received: number[] = [];
    let clientChunks = 0;
    provider.options = {
      pause: async ({ index }) => {
        // The sidecar must have delivered event i-1 before the provider sends event i.
        if (index > 0) await waitFor(() => clientChunks >= index, 5000, `chunk ${index - 1} at the client`);
        received.push(index);
      },
    };
    const before = await tokens('output');
    const stream = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) {
      clientChunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    provider.options = {};
    assert.equal(text, 'The quick brown fox jumps over the lazy dog, then naps in the sun.');
    const req = provider.requests.at(-1)!;
    assert.deepEqual(req.body['stream_options'], { include_usage: true }, 'include_usage was added for the route');
    await waitFor(async () => (await tokens('output')) - before === req.usage.output, 5000, 'output tokens metered');
  });

  it('forwards the request body byte-identical when no rewrite is configured', async () => {
    const body = '{"model":"claude-3-5-haiku",  "max_tokens": 50, "messages":[{"role":"user","content":"h\\u00e9llo"}], "seed": 12345678901234567890}';
    const r = await post(`${proxy.url}/v1/messages`, { 'x-api-key': key.key }, body);
    assert.equal(r.status, 200, r.body);
    assert.equal(provider.requests.at(-1)!.raw.toString(), body);
    await waitFor(async () => (await tokens('input', 'anthropic')) >= 25, 5000, 'anthropic input tokens metered');
  });

  it('meters the Responses API format, streamed', async () => {
    const before = await tokens('output');
    const stream = await client().responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    for await (const _ of stream) void _;
    const expected = provider.requests.at(-1)!.usage.output;
    await waitFor(async () => (await tokens('output')) - before === expected, 5000, 'responses output tokens metered');
  });

  it('drains the upstream after a client disconnect (default), so the provider finishes and is metered', async () => {
    let release: () => void = () => undefined;
    const hold = new Promise<void>((r) => (release = r));
    provider.options = { pause: async ({ index }) => (index === 3 ? hold : undefined) };
    const req = http.request(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key.key },
      agent: false,
    });
    req.on('error', () => undefined);
    req.on('response', (res) => res.once('data', () => req.destroy()));
    req.end(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    const n = provider.requests.length;
    await waitFor(() => provider.requests.length > n && req.destroyed, 5000, 'client to leave mid-stream');
    release();
    const rec = provider.requests.at(-1)!;
    await waitFor(() => rec.completed, 5000, 'provider to finish the stream');
    assert.equal(rec.aborted, false, 'drain keeps reading to the end');
    provider.options = {};
  });

  it('aborts the upstream after a client disconnect on an abort route', async () => {
    let release: () => void = () => undefined;
    const hold = new Promise<void>((r) => (release = r));
    provider.options = { pause: async ({ index }) => (index === 3 ? hold : undefined) };
    const req = http.request(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key.key },
      agent: false,
    });
    req.on('error', () => undefined);
    req.on('response', (res) => res.once('data', () => req.destroy()));
    req.end(JSON.stringify({ model: 'gpt-4o-mini', stream: true, input: 'hi' }));
    const n = provider.requests.length;
    await waitFor(() => provider.requests.length > n && req.destroyed, 5000, 'client to leave');
    const rec = provider.requests.at(-1)!;
    await waitFor(() => rec.aborted, 5000, 'upstream request to be cancelled');
    release();
    provider.options = {};
  });

  it('403 ARGUS_MODEL_NOT_ALLOWED for a model outside the entitlements; the provider sees nothing', async () => {
    const n = provider.requests.length;
    const r = await post(`${proxy.url}/v1/chat/completions`, { 'x-api-key': key.key }, JSON.stringify({ model: 'o3-pro', messages: [] }));
    assert.equal(r.status, 403);
    assert.equal(code(r), 'ARGUS_MODEL_NOT_ALLOWED');
    assert.equal(provider.requests.length, n);
  });

  it('429 ARGUS_QUOTA_EXCEEDED once the daily token budget is spent; concurrent requests cannot overspend it by more than what is in flight', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 40, messages: [{ role: 'user', content: 'hi' }] });
    const results = await Promise.all(Array.from({ length: 10 }, () => post(`${proxy.url}/v1/chat/completions`, { 'x-api-key': poor.key }, body)));
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    assert.ok(ok >= 1 && ok <= 3, `${ok} admitted`);
    assert.ok(limited.length >= 7);
    assert.equal(code(limited[0]!), 'ARGUS_QUOTA_EXCEEDED');
    const after = await post(`${proxy.url}/v1/chat/completions`, { 'x-api-key': poor.key }, body);
    assert.equal(after.status, 429);
  });
});

describe('LLM requests per minute per caller', () => {
  it("is enforced from the caller's LLM entitlements (429 ARGUS_RATE_LIMITED with RateLimit headers)", async () => {
    const prefix = testPrefix('llm-rpm');
    const redis = new Redis(SHARED_REDIS);
    const key = generateApiKey();
    await projectKey(redis, prefix, key.sha256, {
      key_id: key.key_id,
      user_id: 'llm_rpm',
      tier: 'business',
      scopes: [],
      features: [],
      status: 'active',
      llm: { models: ['gpt-4o-mini'], model_tiers: [], requests_per_minute: 10 },
    });
    const provider = await startLlmProvider();
    const proxy = await startTestProxy({
      upstream: { url: provider.url },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      routes: [{ path: '/v1/chat/completions', auth: 'required', llm: { provider: 'openai' } }],
    });
    try {
      const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [] });
      const statuses: number[] = [];
      let last: HttpReply | undefined;
      for (let i = 0; i < 5; i++) {
        last = await post(`${proxy.url}/v1/chat/completions`, { 'x-api-key': key.key }, body);
        statuses.push(last.status);
      }
      // 10/min with the default burst (10% → 1): two pass at once, then 429.
      assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
      assert.equal(code(last!), 'ARGUS_RATE_LIMITED');
      assert.equal(provider.requests.length, 2);
    } finally {
      await proxy.stop();
      await provider.close();
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });
});

describe('LLM quota routes fail closed', () => {
  it('503 when Redis is unreachable', async () => {
    const priv = await startPrivateRedis();
    const prefix = testPrefix('llm-down');
    const r = new Redis(priv.url);
    const key = generateApiKey();
    await projectKey(r, prefix, key.sha256, {
      key_id: key.key_id,
      user_id: 'llm_down',
      tier: 'business',
      scopes: [],
      features: [],
      status: 'active',
      llm: { models: ['gpt-4o-mini'], model_tiers: [], daily_token_budget: 1000 },
    });
    r.disconnect();
    const provider = await startLlmProvider();
    const proxy = await startTestProxy({
      upstream: { url: provider.url },
      redis: { url: priv.url, key_prefix: prefix },
      routes: [{ path: '/v1/chat/completions', auth: 'required', on_auth_unavailable: 'open', llm: { provider: 'openai' } }],
    });
    try {
      const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [] });
      assert.equal((await post(`${proxy.url}/v1/chat/completions`, { 'x-api-key': key.key }, body)).status, 200);
      await priv.kill();
      const res = await post(`${proxy.url}/v1/chat/completions`, { 'x-api-key': key.key }, body);
      assert.equal(res.status, 503);
      assert.equal(provider.requests.length, 1, 'nothing forwarded without a budget reservation');
    } finally {
      await proxy.stop();
      await provider.close();
    }
  });
});
