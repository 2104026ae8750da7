/**
 * Outcome: the official `openai` SDK (and `@anthropic-ai/sdk`, last test), with
 * their default settings (2 retries, honouring Retry-After), against a spawned
 * sidecar:
 * - fails fast with RateLimitError on a used-up daily token budget: the sidecar
 *   sends `x-should-retry: false`, so the SDK does not sleep the truthful
 *   Retry-After (hours, until midnight UTC) and the sidecar sees exactly one
 *   request; the error's message, code and request id are the sidecar's;
 * - fails at once with PermissionDeniedError on a model the key may not use
 *   (`x-should-retry: false` on every 403);
 * - retries a rate-limit refusal after its Retry-After (`x-should-retry: true`)
 *   and then succeeds: the sidecar sees the refused attempt and the retry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { generateApiKey } from '../src/authenticate/api-keys.js';
import { startLlmProvider, type StandInProvider } from './support/llm-provider.js';
import { request } from './support/http.js';
import { startCli, type StartedChild } from './support/spawn.js';

/** Sum of a metric's samples whose labels include `labels` (Prometheus text). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('the openai SDK against sidecar refusals (default retries)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'argus-sdk-'));
  const broke = generateApiKey('test');
  const busy = generateApiKey('test');
  let provider: StandInProvider;
  let proxy: StartedChild;
  let url = '';
  let admin = '';
  const metrics = async () => (await fetch(`${admin}/metrics`)).text();
  const seen = async (code: string) => sample(await metrics(), 'argus_rejected_total', { code });

  before(async () => {
    provider = await startLlmProvider();
    writeFileSync(
      join(dir, 'keys.yaml'),
      [
        `- { key_id: ${broke.key_id}, sha256: ${broke.sha256}, user_id: broke, tier: professional, llm: { models: [gpt-4o-mini, claude-3-5-haiku], daily_token_budget: 0 } }`,
        // explorer here: 20 requests per minute, no burst: a second request within 3 s is refused with Retry-After of at most 3.
        `- { key_id: ${busy.key_id}, sha256: ${busy.sha256}, user_id: busy, tier: explorer, llm: { models: [gpt-4o-mini] } }`,
      ].join('\n') + '\n',
    );
    writeFileSync(
      join(dir, 'argus.yaml'),
      `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
threads: 1
upstream: { url: "${provider.url}" }
auth: { api_keys: { file: "${join(dir, 'keys.yaml')}" } }
tiers: { explorer: { requests_per_minute: 20, burst: 0 } }
routes:
  - path: /v1/chat/completions
    methods: [POST]
    auth: required
    llm: { provider: openai, include_usage: true }
  - path: /v1/messages
    methods: [POST]
    auth: required
    llm: { provider: anthropic }
metering: { enabled: false }
`,
    );
    proxy = startCli(['proxy', '--config', join(dir, 'argus.yaml')]);
    const rec = await proxy.waitForLog('proxy listening', 30000);
    url = `http://127.0.0.1:${rec['port']}`;
    admin = `http://127.0.0.1:${rec['admin_port']}`;
  });
  after(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await provider?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const chat = (apiKey: string, model = 'gpt-4o-mini') =>
    new OpenAI({ apiKey, baseURL: `${url}/v1` }).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });

  it("a used-up daily budget: RateLimitError after one request, with the sidecar's message and code", async () => {
    // A guard, not a timing assertion: without x-should-retry the SDK sleeps the
    // Retry-After (hours) and this would only end at the test timeout.
    let guard: NodeJS.Timeout | undefined;
    const sleeping = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('the SDK has not settled after 60 s: it is sleeping the Retry-After')), 60_000);
    });
    const err = await Promise.race([
      chat(broke.key).then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e,
      ),
      sleeping,
    ]).finally(() => clearTimeout(guard));
    assert.ok(err instanceof OpenAI.RateLimitError, `got ${String(err)}`);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'ARGUS_QUOTA_EXCEEDED');
    assert.match(err.message, /^429 daily token budget of 0 is used up$/);
    assert.match(String(err.requestID), /^[0-9a-f]{12}-[0-9a-z]+$/);
    assert.equal(err.headers.get('x-should-retry'), 'false');
    // Truthful: the budget comes back at midnight UTC.
    const wait = Number(err.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 86400, `retry-after ${wait}`);
    assert.equal(await seen('ARGUS_QUOTA_EXCEEDED'), 1, 'the SDK sent the request once');
    assert.equal(provider.requests.length, 0);
  });

  it('a model the key may not use: PermissionDeniedError at once, x-should-retry: false', async () => {
    const err = await chat(broke.key, 'gpt-5-huge').then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.PermissionDeniedError, `got ${String(err)}`);
    assert.equal(err.code, 'ARGUS_MODEL_NOT_ALLOWED');
    assert.equal(err.headers.get('x-should-retry'), 'false');
    assert.equal(await seen('ARGUS_MODEL_NOT_ALLOWED'), 1);
  });

  it('a rate limit: the SDK waits Retry-After, retries, and succeeds', async () => {
    // Take this interval's request, then let the SDK meet the limit.
    const first = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${busy.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(first.status, 200);
    const refusedBefore = await seen('ARGUS_RATE_LIMITED');
    const upstreamBefore = provider.requests.length;
    const raw = await chat(busy.key).withResponse();
    assert.equal(raw.response.status, 200);
    assert.equal(raw.data.choices[0]?.message.content, 'The quick brown fox jumps over the lazy dog, then naps in the sun.');
    assert.ok((await seen('ARGUS_RATE_LIMITED')) - refusedBefore >= 1, 'the sidecar refused an attempt first');
    assert.equal(provider.requests.length - upstreamBefore, 1, 'the retry reached the provider once');
  });

  it('a rate-limit refusal says x-should-retry: true with a Retry-After of the real wait', async () => {
    let r = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${busy.key}`, 'content-type': 'application/json' },
      body: '{"model":"gpt-4o-mini","messages":[]}',
    });
    for (let i = 0; i < 3 && r.status !== 429; i++)
      r = await request(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${busy.key}`, 'content-type': 'application/json' },
        body: '{"model":"gpt-4o-mini","messages":[]}',
      });
    assert.equal(r.status, 429);
    assert.equal(r.headers['x-should-retry'], 'true');
    const wait = Number(r.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 3, `retry-after ${wait}`);
  });

  it("@anthropic-ai/sdk: a used-up budget is RateLimitError after one request, with the sidecar's message", async () => {
    const before = await seen('ARGUS_QUOTA_EXCEEDED');
    let guard: NodeJS.Timeout | undefined;
    const sleeping = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('the SDK has not settled after 60 s: it is sleeping the Retry-After')), 60_000);
    });
    const client = new Anthropic({ apiKey: broke.key, baseURL: url });
    const call = client.messages.create({ model: 'claude-3-5-haiku', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const err = await Promise.race([
      call.then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e,
      ),
      sleeping,
    ]).finally(() => clearTimeout(guard));
    assert.ok(err instanceof Anthropic.RateLimitError, `got ${String(err)}`);
    assert.match(err.message, /^429 daily token budget of 0 is used up/);
    assert.equal((await seen('ARGUS_QUOTA_EXCEEDED')) - before, 1, 'the SDK sent the request once');
  });
});
