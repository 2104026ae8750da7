/**
 * Price table → cost_usd (cached input priced separately, dated model ids,
 * globs, unknown models flagged) and the `llm` usage event fields.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildLlmEvent } from '../src/llm/event.js';
import { createPriceTable } from '../src/llm/prices.js';

const prices = createPriceTable({
  openai: {
    'gpt-4o': { input_per_mtok: 2.5, output_per_mtok: 10, cached_input_per_mtok: 1.25 },
    'gpt-4o-mini': { input_per_mtok: 0.15, output_per_mtok: 0.6 },
    'o3*': { input_per_mtok: 2, output_per_mtok: 8 },
    'o3-pro*': { input_per_mtok: 20, output_per_mtok: 80 },
  },
  anthropic: { 'claude-sonnet-4-5': { input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3 } },
});

test('cost = uncached input + cached input + output, per million tokens', () => {
  const c = prices.cost('openai', ['gpt-4o'], { input_tokens: 1_000_000, cached_input_tokens: 400_000, output_tokens: 100_000 });
  assert.deepEqual(c, { cost_usd: 0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10, priced: true });
  const noCachedPrice = prices.cost('openai', ['gpt-4o-mini'], { input_tokens: 1000, cached_input_tokens: 500, output_tokens: 1000 });
  assert.equal(noCachedPrice.cost_usd, (1000 * 0.15 + 1000 * 0.6) / 1e6, 'cached input defaults to the input price');
});

test('dated ids fall back to the undated name; never a bare prefix', () => {
  assert.equal(prices.lookup('openai', 'gpt-4o-2024-08-06')?.input_per_mtok, 2.5);
  assert.equal(prices.lookup('anthropic', 'claude-sonnet-4-5-20250929')?.input_per_mtok, 3);
  assert.equal(prices.lookup('openai', 'gpt-4o-mini-2024-07-18')?.input_per_mtok, 0.15, 'not gpt-4o');
  assert.equal(prices.lookup('openai', 'gpt-4o-realtime'), undefined);
});

test('globs: the longest matching pattern wins', () => {
  assert.equal(prices.lookup('openai', 'o3-mini')?.input_per_mtok, 2);
  assert.equal(prices.lookup('openai', 'o3-pro-2025-06-10')?.input_per_mtok, 20);
});

test('unknown provider or model: cost 0, flagged; later names are tried in order', () => {
  assert.deepEqual(prices.cost('openai', ['mystery'], { input_tokens: 10, output_tokens: 10 }), { cost_usd: 0, priced: false });
  assert.deepEqual(prices.cost('azure', ['gpt-4o'], { input_tokens: 10, output_tokens: 10 }), { cost_usd: 0, priced: false });
  assert.equal(prices.cost('openai', [undefined, 'mystery', 'gpt-4o'], { input_tokens: 1e6, output_tokens: 0 }).cost_usd, 2.5);
});

test('the llm event: response model, cost, ttft and latency from one clock, partial flags', () => {
  const usage = {
    model: 'gpt-4o-2024-08-06',
    input_tokens: 100,
    output_tokens: 50,
    cached_input_tokens: 20,
    estimated: false,
    complete: true,
    first_token_at: 1250,
  };
  const ev = buildLlmEvent({ provider: 'openai', requestModel: 'gpt-4o', usage, prices, startedAt: 1000, endedAt: 3000, cutShort: false });
  assert.deepEqual(ev, {
    provider: 'openai',
    model: 'gpt-4o-2024-08-06',
    input_tokens: 100,
    output_tokens: 50,
    cached_input_tokens: 20,
    cost_usd: (80 * 2.5 + 20 * 1.25 + 50 * 10) / 1e6,
    priced: true,
    estimated: false,
    partial: false,
    ttft_ms: 250,
    latency_ms: 2000,
  });
  const cut = buildLlmEvent({
    provider: 'openai',
    usage: { ...usage, model: undefined, first_token_at: undefined },
    prices,
    startedAt: 0,
    endedAt: 5,
    cutShort: true,
  });
  assert.equal(cut.partial, true);
  assert.equal(cut.model, 'unknown');
  assert.equal(cut.ttft_ms, undefined);
  assert.equal(cut.priced, false);
  const incomplete = buildLlmEvent({ provider: 'openai', usage: { ...usage, complete: false }, prices, startedAt: 0, endedAt: 5, cutShort: false });
  assert.equal(incomplete.partial, true, 'no end marker seen');
});
