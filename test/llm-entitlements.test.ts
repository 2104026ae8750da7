/**
 * Model entitlements → 403 ARGUS_MODEL_NOT_ALLOWED: allowed names and globs,
 * model tiers from config, missing model, callers without LLM entitlements.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthContext } from '../src/request/principal.js';
import type { LlmEntitlements } from '../src/llm/entitlement-schema.js';
import { parseConfig } from '../src/config.js';
import { statusOf } from '../src/errors.js';
import { createModelCheck } from '../src/llm/entitlements.js';
import { routeLlmSchema } from '../src/llm/schema.js';

const config = parseConfig({
  upstream: { url: 'http://127.0.0.1:3000' },
  routes: [{ path: '/v1/*' }],
  llm: {
    model_tiers: {
      economy: ['gpt-4o-mini', 'claude-3-5-haiku-*'],
      balanced: ['gpt-4o', 'gpt-4.1'],
      reasoning: ['o3*', 'claude-opus-?'],
    },
    prices: { openai: { 'gpt-4o': { input_per_mtok: 2.5, output_per_mtok: 10 } } },
  },
});

const check = createModelCheck({ modelTiers: config.llm.model_tiers });

function ctx(llm: Partial<LlmEntitlements> | undefined): AuthContext {
  const base = { method: 'api_key' as const, user_id: 'u1', tier: 'professional', features: [], scopes: [] };
  return llm ? { ...base, llm: { models: [], model_tiers: [], ...llm } } : base;
}

test('a model in an allowed tier passes; one outside every allowed tier is a 403', () => {
  const economy = ctx({ model_tiers: ['economy'] });
  assert.equal(check(economy, 'gpt-4o-mini'), null);
  assert.equal(check(economy, 'claude-3-5-haiku-20241022'), null, 'glob in tier');
  const denied = check(economy, 'gpt-4o');
  assert.equal(denied?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  assert.equal(statusOf(denied!.code), 403);
  assert.match(denied!.message, /gpt-4o/);
});

test('tiers are independent sets: reasoning alone does not grant economy', () => {
  const reasoning = ctx({ model_tiers: ['reasoning'] });
  assert.equal(check(reasoning, 'o3-mini'), null);
  assert.equal(check(reasoning, 'claude-opus-4'), null, '? matches one character');
  assert.equal(check(reasoning, 'claude-opus-45')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  assert.equal(check(reasoning, 'gpt-4o-mini')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  assert.equal(check(ctx({ model_tiers: ['no-such-tier'] }), 'gpt-4o-mini')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
});

test('explicit model names and globs are allowed alongside tiers', () => {
  const c = ctx({ models: ['gpt-4o', 'ft:gpt-4o-mini:acme:*'], model_tiers: ['economy'] });
  assert.equal(check(c, 'gpt-4o'), null);
  assert.equal(check(c, 'ft:gpt-4o-mini:acme:v2'), null);
  assert.equal(check(c, 'ft:gpt-4o-mini:other:v2')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  assert.equal(check(c, 'gpt-4o-mini'), null, 'via the economy tier');
  assert.equal(check(c, 'GPT-4O')?.code, 'ARGUS_MODEL_NOT_ALLOWED', 'names are case-sensitive');
});

test('glob metacharacters other than * and ? are literal', () => {
  const c = ctx({ models: ['gpt-4.1'] });
  assert.equal(check(c, 'gpt-4.1'), null);
  assert.equal(check(c, 'gpt-4x1')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
});

test('a request naming no model is denied when the caller is restricted', () => {
  const c = ctx({ models: ['*'] });
  assert.equal(check(c, 'anything'), null);
  assert.equal(check(c, undefined)?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  assert.equal(check(c, '')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
});

test('empty entitlement lists grant nothing', () => {
  assert.equal(check(ctx({}), 'gpt-4o-mini')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
});

test('callers without LLM entitlements: denied by default, allowed when configured', () => {
  assert.equal(check(ctx(undefined), 'gpt-4o-mini')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  assert.equal(check(undefined, 'gpt-4o-mini')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  const open = createModelCheck({ modelTiers: {}, withoutEntitlements: 'allow' });
  assert.equal(open(ctx(undefined), 'gpt-4o-mini'), null);
  assert.equal(open(undefined, undefined), null);
  assert.equal(open(ctx({ models: ['a'] }), 'b')?.code, 'ARGUS_MODEL_NOT_ALLOWED', 'entitlements still apply when present');
});

test('config: the llm section validates and unknown keys are errors naming the key', () => {
  assert.deepEqual(config.llm.model_tiers.economy, ['gpt-4o-mini', 'claude-3-5-haiku-*']);
  assert.throws(
    () => parseConfig({ upstream: { url: 'http://x' }, routes: [{ path: '/' }], llm: { prices: { openai: { m: { input_per_mtok: 1 } } } } }),
    /llm\.prices\.openai\.m\.output_per_mtok: required/,
  );
  assert.throws(() => parseConfig({ upstream: { url: 'http://x' }, routes: [{ path: '/' }], llm: { tiers: {} } }), /llm: unknown key\(s\) "tiers"/);
  const route = routeLlmSchema.parse({ provider: 'openai' });
  assert.deepEqual(
    { ...route },
    {
      provider: 'openai',
      usage: {},
      on_client_abort: 'drain',
      drain_timeout_ms: 60000,
      drain_max_bytes: 8388608,
      include_usage: false,
      max_request_body_bytes: 1048576,
      default_max_tokens: 4096,
    },
  );
  assert.equal(routeLlmSchema.safeParse({ provider: 'x', format: 'json', usage: { total_path: 'usage..x' } }).success, false);
});
