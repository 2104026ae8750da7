/**
 * Usage extraction from real HTTP responses of the stand-in provider, for every
 * format, streamed and not; estimates when usage is missing; partial streams;
 * and the official openai client parsing the stand-in's streams.
 */
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import OpenAI from 'openai';
import { createUsageExtractor, estimateTokens, type UsageExtractor } from '../src/llm/usage/index.js';
import type { RouteLlmConfig } from '../src/llm/schema.js';
import { DEFAULT_TEXT, startLlmProvider, type StandInProvider } from './support/llm-provider.js';

let provider: StandInProvider;
before(async () => {
  provider = await startLlmProvider();
});
after(() => provider.close());
beforeEach(() => {
  provider.options = { cachedTokens: 5 };
});

const WORDS = DEFAULT_TEXT.split(' ').length;
const PATH = { 'openai-chat': '/v1/chat/completions', 'openai-responses': '/v1/responses', anthropic: '/v1/messages' } as const;
type Format = keyof typeof PATH;

function requestBody(format: Format, stream: boolean, extra: object = {}): object {
  const model = format === 'anthropic' ? 'claude-3-5-haiku-latest' : 'gpt-4o-mini';
  if (format === 'openai-responses') return { model, input: 'Say something', stream, ...extra };
  return { model, max_tokens: 64, messages: [{ role: 'user', content: 'Say something' }], stream, ...extra };
}

/** POST and return the response's Content-Type and body chunks as they arrived. */
async function fetchChunks(path: string, body: object): Promise<{ contentType: string | undefined; chunks: Uint8Array[] }> {
  const res = await fetch(provider.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  const chunks: Uint8Array[] = [];
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return { contentType: res.headers.get('content-type') ?? undefined, chunks };
}

/** Re-cut a body into one chunk per SSE event (what the stand-in wrote per write()). */
function perEvent(chunks: Uint8Array[]): Uint8Array[] {
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split(/(?<=\n\n)/).map((s) => new TextEncoder().encode(s));
}

function feed(x: UsageExtractor, chunks: Uint8Array[]) {
  for (const c of chunks) x.push(c);
  return x.finish();
}

const route = (format: RouteLlmConfig['format'], usage: RouteLlmConfig['usage'] = {}) => ({ provider: 'p', format, usage });

for (const format of Object.keys(PATH) as Format[]) {
  for (const stream of [true, false]) {
    test(`${format} ${stream ? 'streamed' : 'non-streamed'}: usage read exactly from real HTTP bytes`, async () => {
      const extra = format === 'openai-chat' && stream ? { stream_options: { include_usage: true } } : {};
      const { contentType, chunks } = await fetchChunks(PATH[format], requestBody(format, stream, extra));
      const rec = provider.requests.at(-1)!;
      let clock = 1000;
      const usage = feed(createUsageExtractor(route(format), contentType, { now: () => ++clock, promptTokens: 3 }), chunks);
      assert.deepEqual(
        { ...usage, first_token_at: usage.first_token_at !== undefined },
        {
          model: (rec.body as { model: string }).model,
          input_tokens: rec.usage.input,
          output_tokens: rec.usage.output,
          cached_input_tokens: 5,
          estimated: false,
          complete: true,
          first_token_at: true,
        },
      );
    });
  }
}

test('streams cut one event per chunk: first_token_at is the first content event, not the role/start event', async () => {
  for (const [format, firstContent] of [
    ['openai-chat', 1],
    ['openai-responses', 4],
    ['anthropic', 3],
  ] as const) {
    const extra = format === 'openai-chat' ? { stream_options: { include_usage: true } } : {};
    const { contentType, chunks } = await fetchChunks(PATH[format], requestBody(format, true, extra));
    let index = 0; // the clock reads the index of the chunk being pushed
    const x = createUsageExtractor(route(format), contentType, { now: () => index });
    const events = perEvent(chunks);
    let completeAt = -1;
    for (const c of events) {
      x.push(c);
      if (x.complete && completeAt < 0) completeAt = index;
      index++;
    }
    const usage = x.finish();
    assert.equal(usage.first_token_at, firstContent, format);
    // Chat's usage chunk comes just before [DONE]; the others end on their usage event.
    assert.equal(completeAt, events.length - (format === 'openai-chat' ? 2 : 1), `${format}: complete once final usage arrived`);
    assert.equal(usage.output_tokens, provider.requests.at(-1)!.usage.output);
  }
});

test('byte-by-byte feeding gives the same usage as whole chunks', async () => {
  for (const format of Object.keys(PATH) as Format[]) {
    const extra = format === 'openai-chat' ? { stream_options: { include_usage: true } } : {};
    const { contentType, chunks } = await fetchChunks(PATH[format], requestBody(format, true, extra));
    const whole = feed(createUsageExtractor(route(format), contentType), chunks);
    const bytes = [...Buffer.concat(chunks)].map((b) => Uint8Array.of(b));
    const split = feed(createUsageExtractor(route(format), contentType), bytes);
    assert.deepEqual({ ...split, first_token_at: 0 }, { ...whole, first_token_at: 0 }, format);
  }
});

test('chat stream without include_usage: complete but estimated from the streamed text and prompt', async () => {
  const { contentType, chunks } = await fetchChunks(PATH['openai-chat'], requestBody('openai-chat', true));
  const usage = feed(createUsageExtractor(route('openai-chat'), contentType, { promptTokens: 7 }), chunks);
  assert.equal(usage.estimated, true);
  assert.equal(usage.complete, true);
  assert.equal(usage.input_tokens, 7);
  assert.equal(usage.output_tokens, estimateTokens(DEFAULT_TEXT.length));
});

test('no usage reported in any format → estimated (≈ chars/4), flagged', async () => {
  provider.options = { omitUsage: true, text: 'abcd efgh ijkl' };
  for (const format of Object.keys(PATH) as Format[]) {
    for (const stream of [true, false]) {
      const { contentType, chunks } = await fetchChunks(PATH[format], requestBody(format, stream));
      const usage = feed(createUsageExtractor(route(format), contentType, { promptTokens: 11, requestModel: 'asked' }), chunks);
      assert.equal(usage.estimated, true, `${format} ${stream}`);
      assert.equal(usage.input_tokens, 11, `${format} ${stream}`);
      assert.equal(usage.output_tokens, 4, `${format} ${stream}: 14 chars → 4 tokens`);
      assert.notEqual(usage.model, 'asked', 'the response model wins over the request model');
    }
  }
});

test('a stream cut short is incomplete; Anthropic keeps exact input and estimates output', async () => {
  const { contentType, chunks } = await fetchChunks(PATH.anthropic, requestBody('anthropic', true));
  const events = perEvent(chunks);
  const usage = feed(createUsageExtractor(route('anthropic'), contentType, { promptTokens: 999 }), events.slice(0, 6));
  assert.equal(usage.complete, false);
  assert.equal(usage.estimated, true);
  assert.equal(usage.input_tokens, 25, 'from message_start');
  assert.equal(usage.cached_input_tokens, 5);
  const seenText = ['The ', 'quick ', 'brown '].join('');
  assert.equal(usage.output_tokens, estimateTokens(seenText.length));

  const chat = await fetchChunks(PATH['openai-chat'], requestBody('openai-chat', true, { stream_options: { include_usage: true } }));
  const cut = feed(createUsageExtractor(route('openai-chat'), chat.contentType), perEvent(chat.chunks).slice(0, 3));
  assert.equal(cut.complete, false);
  assert.equal(cut.estimated, true);
});

test('finish() is idempotent and later pushes are ignored', async () => {
  const { contentType, chunks } = await fetchChunks(PATH.anthropic, requestBody('anthropic', true));
  const x = createUsageExtractor(route('anthropic'), contentType);
  const first = x.finish();
  for (const c of chunks) x.push(c);
  assert.equal(x.finish(), first);
  assert.equal(first.complete, false);
});

test('json format: configured paths read a non-streamed body and every streamed event', async () => {
  const paths = { input_path: 'usage.prompt_tokens', output_path: 'usage.completion_tokens', cached_input_path: 'usage.prompt_tokens_details.cached_tokens' };
  const body = await fetchChunks(PATH['openai-chat'], requestBody('openai-chat', false));
  const u1 = feed(createUsageExtractor(route('json', paths), body.contentType), body.chunks);
  assert.deepEqual(
    [u1.input_tokens, u1.output_tokens, u1.cached_input_tokens, u1.estimated, u1.complete, u1.model],
    [25, WORDS, 5, false, true, 'gpt-4o-mini'],
  );

  const streamed = await fetchChunks(PATH['openai-chat'], requestBody('openai-chat', true, { stream_options: { include_usage: true } }));
  const u2 = feed(createUsageExtractor(route('json', paths), streamed.contentType), streamed.chunks);
  assert.deepEqual([u2.input_tokens, u2.output_tokens, u2.estimated, u2.complete], [25, WORDS, false, true]);

  // Only a total: split with the prompt estimate, flagged as estimated.
  const total = feed(createUsageExtractor(route('json', { total_path: 'usage.total_tokens' }), body.contentType, { promptTokens: 20 }), body.chunks);
  assert.deepEqual([total.input_tokens, total.output_tokens, total.estimated], [20, 25 + WORDS - 20, true]);
  // Total plus one side: the other side is exact.
  const both = feed(
    createUsageExtractor(route('json', { total_path: 'usage.total_tokens', input_path: 'usage.prompt_tokens' }), body.contentType),
    body.chunks,
  );
  assert.deepEqual([both.input_tokens, both.output_tokens, both.estimated], [25, WORDS, false]);
});

test('non-JSON and oversized bodies do not throw: estimated, incomplete', () => {
  const html = createUsageExtractor(route('openai-chat'), 'text/html', { promptTokens: 4 });
  html.push(new TextEncoder().encode('<html>bad gateway</html>'));
  assert.deepEqual([html.finish().complete, html.finish().estimated, html.finish().output_tokens], [false, true, 0]);
  const big = createUsageExtractor(route('openai-chat'), 'application/json', { maxBodyBytes: 16 });
  big.push(new Uint8Array(40).fill(32));
  assert.deepEqual([big.finish().complete, big.finish().output_tokens], [false, 10]);
});

test('the official openai client parses the stand-in (chat + responses, streamed and not)', async () => {
  const client = new OpenAI({ baseURL: provider.url + '/v1', apiKey: 'sk-test', maxRetries: 0 });
  let text = '';
  let usage: OpenAI.CompletionUsage | undefined;
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, DEFAULT_TEXT);
  assert.equal(usage?.prompt_tokens, 25);
  assert.equal(usage?.completion_tokens, WORDS);

  const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(plain.choices[0]?.message.content, DEFAULT_TEXT);
  assert.equal(plain.usage?.prompt_tokens_details?.cached_tokens, 5);

  const rstream = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
  let rtext = '';
  let completed: OpenAI.Responses.Response | undefined;
  for await (const ev of rstream) {
    if (ev.type === 'response.output_text.delta') rtext += ev.delta;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.equal(rtext, DEFAULT_TEXT);
  assert.equal(completed?.usage?.output_tokens, WORDS);

  const rplain = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
  assert.equal(rplain.output_text, DEFAULT_TEXT);
  assert.equal(rplain.usage?.input_tokens, 25);
});

test('stand-in pause hook holds each event until released; a client disconnect is recorded', async () => {
  let release: (() => void) | undefined;
  provider.options = {
    pause: ({ index }) => {
      if (index === 2) return new Promise<void>((r) => (release = r));
    },
  };
  // node:http, not fetch: destroying the request closes the socket (undici may drain an aborted body instead).
  const req = request(provider.url + PATH.anthropic, { method: 'POST' });
  req.end(JSON.stringify(requestBody('anthropic', true)));
  const res = await new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
  req.on('error', () => {});
  let seen = '';
  const deadline = Date.now() + 5000;
  for await (const chunk of res) {
    seen += String(chunk);
    if (seen.includes('content_block_start')) break;
    assert.ok(Date.now() < deadline, 'first two events arrive while the third is held');
  }
  const rec = provider.requests.at(-1)!;
  assert.equal(seen.includes('ping'), false, 'the held event has not been written');
  assert.equal(rec.written, 2);
  req.destroy();
  while (!rec.aborted) {
    assert.ok(Date.now() < deadline, 'disconnect recorded');
    await new Promise((r) => setTimeout(r, 5));
  }
  release!();
  assert.equal(rec.completed, false);
});
