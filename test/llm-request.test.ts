/**
 * LLM request bodies: model/max_tokens/stream/prompt estimate read from a bounded
 * body; the body is forwarded byte-identical unless the include_usage rewrite
 * applies; the rewrite makes a real provider stream report usage.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRequestBodyCollector, inspectLlmRequest } from '../src/llm/request.js';
import { createUsageExtractor } from '../src/llm/usage/index.js';
import { startLlmProvider, type StandInProvider } from './support/llm-provider.js';

const enc = new TextEncoder();
const chat = { provider: 'openai', include_usage: true };

let provider: StandInProvider;
before(async () => {
  provider = await startLlmProvider();
});
after(() => provider.close());

test('reads model, max_tokens variants, stream and a prompt estimate; the body is untouched', () => {
  const text = ' {"model":"gpt-4o","max_completion_tokens":300,"messages":[{"role":"user","content":"' + 'x'.repeat(400) + '"}]}';
  const body = enc.encode(text);
  const r = inspectLlmRequest(body, chat);
  assert.equal(r.body, body);
  assert.equal(r.rewritten, false, 'not a stream: no rewrite');
  assert.deepEqual(r.info, { model: 'gpt-4o', max_tokens: 300, stream: false, prompt_tokens: 100 + 4, json: true });

  const anthropic = inspectLlmRequest(
    enc.encode(
      JSON.stringify({
        model: 'claude',
        max_tokens: 10,
        system: 'abcd'.repeat(10),
        stream: true,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'abcd' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(10000) } },
            ],
          },
        ],
      }),
    ),
    { provider: 'anthropic', include_usage: true },
  );
  assert.deepEqual(
    anthropic.info,
    { model: 'claude', max_tokens: 10, stream: true, prompt_tokens: 11 + 4, json: true },
    'base64 image data is not counted as text',
  );
  assert.equal(anthropic.rewritten, false, 'only OpenAI chat is rewritten');

  const responses = inspectLlmRequest(enc.encode('{"model":"o3","input":"abcdefgh","max_output_tokens":50}'), {
    provider: 'openai',
    format: 'openai-responses',
    include_usage: false,
  });
  assert.deepEqual(responses.info, { model: 'o3', max_tokens: 50, stream: false, prompt_tokens: 2, json: true });
});

test('non-JSON or non-object bodies yield json:false and are never rewritten', () => {
  for (const text of ['not json', '[1,2]', 'null', '{"model":', '']) {
    const body = enc.encode(text);
    const r = inspectLlmRequest(body, chat);
    assert.equal(r.info.json, false, text);
    assert.equal(r.info.model, undefined);
    assert.equal(r.body, body);
  }
});

test('include_usage splices stream_options in and keeps every other byte', () => {
  const text = '{ "model" : "gpt-4o-mini",\n "stream": true, "seed": 12345678901234567890, "messages": [] }';
  const r = inspectLlmRequest(enc.encode(text), chat);
  assert.equal(r.rewritten, true);
  const out = Buffer.from(r.body).toString('utf8');
  assert.equal(out, '{"stream_options":{"include_usage":true}, "model" : "gpt-4o-mini",\n "stream": true, "seed": 12345678901234567890, "messages": [] }');
  assert.deepEqual(JSON.parse(out).stream_options, { include_usage: true });
});

test('existing stream_options: kept when include_usage is already true, else merged', () => {
  const already = enc.encode('{"model":"m","stream":true,"stream_options":{"include_usage":true}}');
  const a = inspectLlmRequest(already, chat);
  assert.equal(a.rewritten, false);
  assert.equal(a.body, already);

  const b = inspectLlmRequest(enc.encode('{"model":"m","stream":true,"stream_options":{"include_obfuscation":false,"include_usage":false}}'), chat);
  assert.equal(b.rewritten, true);
  assert.deepEqual(JSON.parse(Buffer.from(b.body).toString()), {
    model: 'm',
    stream: true,
    stream_options: { include_obfuscation: false, include_usage: true },
  });

  const off = inspectLlmRequest(enc.encode('{"model":"m","stream":true}'), { provider: 'openai', include_usage: false });
  assert.equal(off.rewritten, false, 'route did not enable it');
});

test('the rewritten body makes the provider send usage, which the extractor reads exactly', async () => {
  const original = enc.encode(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hello there' }] }));
  const { body, info } = inspectLlmRequest(original, chat);
  const res = await fetch(provider.url + '/v1/chat/completions', { method: 'POST', headers: { 'content-length': String(body.byteLength) }, body });
  const x = createUsageExtractor(chat, res.headers.get('content-type') ?? undefined, { promptTokens: info.prompt_tokens });
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) x.push(c);
  const usage = x.finish();
  const rec = provider.requests.at(-1)!;
  assert.deepEqual(rec.body.stream_options, { include_usage: true });
  assert.equal(usage.estimated, false);
  assert.equal(usage.input_tokens, rec.usage.input);
  assert.equal(usage.output_tokens, rec.usage.output);
});

test('the body collector refuses past its bound with 413 and keeps refusing', () => {
  const c = createRequestBodyCollector(10);
  assert.equal(c.push(enc.encode('12345')), null);
  assert.equal(c.push(enc.encode('67890')), null);
  assert.equal(Buffer.from(c.body()).toString(), '1234567890');
  const denial = c.push(enc.encode('!'));
  assert.equal(denial?.code, 'ARGUS_PAYLOAD_TOO_LARGE');
  assert.equal(c.push(enc.encode('')), denial);
});
