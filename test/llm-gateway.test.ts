/**
 * The LLM stage end to end without the proxy: prepare (model check, budget
 * reserve, include_usage rewrite) → real HTTP to the stand-in provider → meter
 * each chunk → finish (event fields, metrics, budget settled), against real Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import type { AuthContext } from '../src/request/principal.js';
import type { Denial } from '../src/errors.js';
import { createRedisBudget } from '../src/llm/budget.js';
import { createLlmGateway, type PreparedLlmRequest } from '../src/llm/gateway.js';
import { createLlmMetrics } from '../src/llm/metrics.js';
import { llmSchema, routeLlmSchema } from '../src/llm/schema.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';
import { DEFAULT_TEXT, startLlmProvider, type StandInProvider } from './support/llm-provider.js';

const prefix = `test:llm-gw:${randomUUID()}:`;
const WORDS = DEFAULT_TEXT.split(' ').length;
let redis: Redis;
let provider: StandInProvider;

before(async () => {
  redis = createRedis('redis://127.0.0.1:6379');
  await new Promise((resolve, reject) => (redis.status === 'ready' ? resolve(undefined) : (redis.once('ready', resolve), redis.once('error', reject))));
  provider = await startLlmProvider({ cachedTokens: 5 });
});

after(async () => {
  await provider.close();
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    await closeRedis(redis);
  }
});

const llm = llmSchema.parse({
  prices: { openai: { 'gpt-4o-mini': { input_per_mtok: 0.15, output_per_mtok: 0.6, cached_input_per_mtok: 0.075 } } },
  model_tiers: { economy: ['gpt-4o-mini'], reasoning: ['o3*'] },
});
const chatRoute = routeLlmSchema.parse({ provider: 'openai', include_usage: true, default_max_tokens: 100 });
const registry = new Registry();
const metrics = createLlmMetrics(registry);

function caller(budgetTokens?: number): AuthContext {
  return {
    method: 'api_key',
    user_id: `u-${randomUUID()}`,
    tier: 'professional',
    features: [],
    scopes: [],
    llm: { models: [], model_tiers: ['economy'], ...(budgetTokens !== undefined ? { daily_token_budget: budgetTokens } : {}) },
  };
}

const isDenial = (x: PreparedLlmRequest | Denial): x is Denial => 'code' in x;
const chatBody = (model = 'gpt-4o-mini') =>
  new TextEncoder().encode(JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'x'.repeat(40) }] }));

test('streamed chat: rewritten body, exact usage, cost, metrics, budget settled to actual', async () => {
  const gw = createLlmGateway({ llm, budget: createRedisBudget(redis, { prefix }), metrics });
  const ctx = caller(100_000);
  const prepared = await gw.prepare(chatRoute, ctx, chatBody());
  assert.ok(!isDenial(prepared));
  assert.equal(prepared.rewritten, true);
  assert.equal(prepared.reservation?.tokens, 10 + 4 + 100, 'prompt estimate + default max tokens');
  const res = await fetch(provider.url + '/v1/chat/completions', { method: 'POST', body: prepared.body });
  const meter = gw.meterResponse(prepared, res.headers.get('content-type') ?? undefined);
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) meter.push(c);
  const { event, settled } = meter.finish(false);
  assert.equal(await settled, true);
  assert.deepEqual(
    { ...event, ttft_ms: typeof event.ttft_ms, latency_ms: typeof event.latency_ms },
    {
      provider: 'openai',
      model: 'gpt-4o-mini',
      input_tokens: 25,
      output_tokens: WORDS,
      cached_input_tokens: 5,
      cost_usd: Math.round(((20 * 0.15 + 5 * 0.075 + WORDS * 0.6) / 1e6) * 1e9) / 1e9,
      priced: true,
      estimated: false,
      partial: false,
      ttft_ms: 'number',
      latency_ms: 'number',
    },
  );
  const gwBudget = createRedisBudget(redis, { prefix });
  assert.equal(await gwBudget.used(ctx.user_id), 25 + WORDS);
  assert.match(await registry.metrics(), new RegExp(`argus_llm_tokens_total\\{provider="openai",model="gpt-4o-mini",direction="output"\\} ${WORDS}`));
});

test('a model outside the caller entitlements is a 403 before any reservation', async () => {
  const gw = createLlmGateway({ llm, budget: createRedisBudget(redis, { prefix }) });
  const ctx = caller(100_000);
  const d = await gw.prepare(chatRoute, ctx, chatBody('o3-mini'));
  assert.ok(isDenial(d));
  assert.equal(d.code, 'ARGUS_MODEL_NOT_ALLOWED');
  assert.equal(await createRedisBudget(redis, { prefix }).used(ctx.user_id), 0);
  const unreadable = await gw.prepare(chatRoute, ctx, new TextEncoder().encode('{"model": '));
  assert.ok(isDenial(unreadable) && unreadable.code === 'ARGUS_MODEL_NOT_ALLOWED');
});

test('budget used up → 429; a released reservation is given back', async () => {
  const b = createRedisBudget(redis, { prefix });
  const gw = createLlmGateway({ llm, budget: b });
  const ctx = caller(150);
  const first = await gw.prepare(chatRoute, ctx, chatBody());
  assert.ok(!isDenial(first));
  const second = await gw.prepare(chatRoute, ctx, chatBody());
  assert.ok(!isDenial(second), 'admitted below the limit');
  const third = await gw.prepare(chatRoute, ctx, chatBody());
  assert.ok(isDenial(third) && third.code === 'ARGUS_QUOTA_EXCEEDED');
  assert.equal(await gw.release(second), true);
  assert.equal(await b.used(ctx.user_id), 114);
  assert.ok(!isDenial(await gw.prepare(chatRoute, ctx, chatBody())));
});

test('a stream cut short meters what was seen: partial and estimated', async () => {
  const gw = createLlmGateway({ llm, budget: createRedisBudget(redis, { prefix }) });
  const ctx = caller(100_000);
  const prepared = await gw.prepare({ ...chatRoute, include_usage: false }, ctx, chatBody());
  assert.ok(!isDenial(prepared));
  const res = await fetch(provider.url + '/v1/chat/completions', { method: 'POST', body: prepared.body });
  const meter = gw.meterResponse(prepared, res.headers.get('content-type') ?? undefined);
  const text = await res.text();
  meter.push(new TextEncoder().encode(text.slice(0, text.indexOf('brown'))));
  const { event, settled } = meter.finish(true);
  assert.equal(event.partial, true);
  assert.equal(event.estimated, true);
  assert.equal(event.input_tokens, 14, 'the prompt estimate');
  assert.equal(event.output_tokens, Math.ceil('The quick '.length / 4));
  await settled;
  assert.equal(await createRedisBudget(redis, { prefix }).used(ctx.user_id), event.input_tokens + event.output_tokens);
  assert.equal(meter.finish(false).event, event, 'finish is idempotent');
});

test('Redis down on a budgeted caller → 503; callers without a budget pass', async () => {
  const down = createRedis(`redis://127.0.0.1:${await closedPort()}`);
  down.on('error', () => {});
  try {
    const gw = createLlmGateway({ llm, budget: createRedisBudget(down, { prefix }) });
    const d = await gw.prepare(chatRoute, caller(1000), chatBody());
    assert.ok(isDenial(d) && d.code === 'ARGUS_DEPENDENCY_UNAVAILABLE');
    assert.ok(!isDenial(await gw.prepare(chatRoute, caller(undefined), chatBody())));
  } finally {
    await closeRedis(down);
  }
});

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
