/**
 * Outcome: an LLM key made exactly as the README says (`keys create --llm '…'`)
 * is served on config/argus.yaml's LLM route (200), where a key made without
 * `--llm` is 403 ARGUS_MODEL_NOT_ALLOWED; and that example route asks streams
 * for the provider's usage (`include_usage`), so they are billed on real counts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { loadConfig } from '../src/config.js';
import { startLlmProvider, type StandInProvider } from './support/llm-provider.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { runCli } from './support/spawn.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENV = { ARGUS_REDIS_URL: 'redis://127.0.0.1:1', ARGUS_POSTGRES_URL: 'postgres://127.0.0.1:1/x', ARGUS_SESSION_SECRET: 'x'.repeat(32) };

describe("the README's LLM key on config/argus.yaml's LLM route", () => {
  const dir = mkdtempSync(join(tmpdir(), 'argus-readme-llm-'));
  const keys = join(dir, 'keys.yaml');
  const example = loadConfig(join(ROOT, 'config/argus.yaml'), ENV);
  const llmRoute = example.routes.find((r) => r.llm !== undefined)!;
  let provider: StandInProvider;
  let proxy: TestProxy;
  let withLlm = '';
  let without = '';

  before(async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const m = /keys create --user \S+ --tier (\S+) \\\n\s+--llm '([^']+)'/.exec(readme);
    assert.ok(m, 'the README shows keys create --llm with an example');
    const make = async (extra: string[]) => {
      const r = await runCli(['keys', 'create', '--standalone', keys, '--user', `u${extra.length}`, '--tier', m[1]!, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { key: string }).key;
    };
    withLlm = await make(['--llm', m[2]!]);
    without = await make([]);
    provider = await startLlmProvider();
    proxy = await startTestProxy({ upstream: { url: provider.url }, auth: { api_keys: { file: keys } }, routes: [llmRoute] });
  });
  after(async () => {
    await proxy?.stop();
    await provider?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("config/argus.yaml's LLM route bills streams on the provider's usage (include_usage)", () => {
    assert.equal(llmRoute.llm?.include_usage, true);
  });

  it('the README key: 200, streamed, and the provider was asked for usage', async () => {
    const client = new OpenAI({ apiKey: withLlm, baseURL: `${proxy.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0);
    assert.deepEqual(provider.requests.at(-1)?.body['stream_options'], { include_usage: true });
  });

  it('a key made without --llm: 403 ARGUS_MODEL_NOT_ALLOWED', async () => {
    const client = new OpenAI({ apiKey: without, baseURL: `${proxy.url}/v1`, maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.PermissionDeniedError);
    assert.equal(err.code, 'ARGUS_MODEL_NOT_ALLOWED');
  });
});
