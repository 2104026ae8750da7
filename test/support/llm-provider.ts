/**
 * A local stand-in LLM provider (real HTTP on 127.0.0.1:0) for tests: OpenAI Chat
 * Completions (`POST /v1/chat/completions`), OpenAI Responses (`POST /v1/responses`)
 * and Anthropic Messages (`POST /v1/messages`), streamed (SSE) and not, with the
 * providers' usage fields. The official `openai` client works against it with
 * `baseURL: provider.url + '/v1'`.
 *
 * Streams write one SSE event per `res.write`, awaiting the `pause` hook before
 * each, so a test can hold the stream between chunks and check chunk-by-chunk
 * delivery. Each request is recorded with the usage it reported and whether the
 * client went away before the end.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type StandInFormat = 'openai-chat' | 'openai-responses' | 'anthropic';

export interface ChunkInfo {
  readonly format: StandInFormat;
  /** 0-based index of the SSE event about to be written. */
  readonly index: number;
  /** The request this chunk belongs to. */
  readonly request: RecordedRequest;
}

export interface StandInOptions {
  /** Reply text; one output token per word. Default: a 12-word sentence. */
  text?: string;
  /** Reported input tokens (all, cached included). Default 25. */
  inputTokens?: number;
  /** Reported cached input tokens. Default 0. */
  cachedTokens?: number;
  /** Report no usage at all (tests the estimate path). */
  omitUsage?: boolean;
  /** Model reported in responses, from the requested one. Default: the requested model. */
  responseModel?: (requested: string) => string;
  /** Awaited before each streamed event is written. */
  pause?: (chunk: ChunkInfo) => void | Promise<void>;
}

export interface RecordedRequest {
  readonly format: StandInFormat;
  readonly headers: IncomingMessage['headers'];
  /** Raw request body bytes as received. */
  readonly raw: Buffer;
  readonly body: Record<string, unknown>;
  readonly stream: boolean;
  /** Usage the provider reported (or would have, with omitUsage). */
  usage: { input: number; output: number; cached: number };
  /** Events written so far (streams). */
  written: number;
  /** The whole response was written. */
  completed: boolean;
  /** The client closed the connection before the response ended. */
  aborted: boolean;
}

export interface StandInProvider {
  /** `http://127.0.0.1:PORT` (append `/v1` for the openai client's baseURL). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Mutable: change between tests. */
  options: StandInOptions;
  close(): Promise<void>;
}

export const DEFAULT_TEXT = 'The quick brown fox jumps over the lazy dog, then naps in the sun.';

const PATHS: Record<string, StandInFormat> = {
  '/v1/chat/completions': 'openai-chat',
  '/v1/responses': 'openai-responses',
  '/v1/messages': 'anthropic',
};

export async function startLlmProvider(options: StandInOptions = {}): Promise<StandInProvider> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const provider: { options: StandInOptions } = { options };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err) } }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const format = PATHS[(req.url ?? '').split('?')[0]!];
    if (req.method !== 'POST' || !format) return json(res, 404, { error: { type: 'not_found', message: 'no such route' } });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return json(res, 400, { error: { type: 'invalid_request_error', message: 'body is not JSON' } });
    }
    if (typeof body.model !== 'string') return json(res, 400, { error: { type: 'invalid_request_error', message: 'model is required' } });
    const o = provider.options;
    const words = (o.text ?? DEFAULT_TEXT).split(' ');
    const rec: RecordedRequest = {
      format,
      headers: req.headers,
      raw,
      body,
      stream: body.stream === true,
      usage: { input: o.inputTokens ?? 25, output: words.length, cached: o.cachedTokens ?? 0 },
      written: 0,
      completed: false,
      aborted: false,
    };
    requests.push(rec);
    res.on('close', () => {
      if (!res.writableFinished) rec.aborted = true;
    });
    const model = (o.responseModel ?? ((m: string) => m))(body.model);
    const pieces = words.map((w, i) => (i < words.length - 1 ? `${w} ` : w));
    if (!rec.stream) {
      rec.completed = true;
      return json(res, 200, BODIES[format](model, pieces.join(''), rec, o.omitUsage === true));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const includeUsage = format !== 'openai-chat' || (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const events = STREAMS[format](model, pieces, rec, includeUsage && o.omitUsage !== true);
    for (const [i, ev] of events.entries()) {
      await o.pause?.({ format, index: i, request: rec });
      if (res.destroyed) return;
      res.write(ev);
      rec.written++;
    }
    rec.completed = true;
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get options() {
      return provider.options;
    },
    set options(v: StandInOptions) {
      provider.options = v;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const sse = (data: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
const CREATED = 1_700_000_000;

function chatUsage(u: RecordedRequest['usage']) {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function responsesUsage(u: RecordedRequest['usage']) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.input + u.output,
  };
}

function anthropicUsage(u: RecordedRequest['usage'], output: number) {
  return {
    input_tokens: u.input - u.cached,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: u.cached,
    output_tokens: output,
    service_tier: 'standard',
  };
}

function responseObject(model: string, text: string, status: string, usage: unknown) {
  return {
    id: 'resp_standin',
    object: 'response',
    created_at: CREATED,
    status,
    model,
    output: text
      ? [{ id: 'msg_standin', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] }]
      : [],
    usage,
  };
}

const BODIES: Record<StandInFormat, (model: string, text: string, rec: RecordedRequest, omit: boolean) => unknown> = {
  'openai-chat': (model, text, rec, omit) => ({
    id: 'chatcmpl-standin',
    object: 'chat.completion',
    created: CREATED,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    ...(omit ? {} : { usage: chatUsage(rec.usage) }),
    system_fingerprint: 'fp_standin',
  }),
  'openai-responses': (model, text, rec, omit) => responseObject(model, text, 'completed', omit ? null : responsesUsage(rec.usage)),
  anthropic: (model, text, rec, omit) => ({
    id: 'msg_standin',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    ...(omit ? {} : { usage: anthropicUsage(rec.usage, rec.usage.output) }),
  }),
};

const STREAMS: Record<StandInFormat, (model: string, pieces: string[], rec: RecordedRequest, usage: boolean) => string[]> = {
  'openai-chat': (model, pieces, rec, usage) => {
    const chunk = (choices: unknown[], extra: object = {}) =>
      sse({ id: 'chatcmpl-standin', object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_standin', choices, ...extra });
    const usageNull = usage ? { usage: null } : {};
    return [
      chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }], usageNull),
      ...pieces.map((p) => chunk([{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }], usageNull)),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], usageNull),
      ...(usage ? [chunk([], { usage: chatUsage(rec.usage) })] : []),
      'data: [DONE]\n\n',
    ];
  },
  'openai-responses': (model, pieces, rec, usage) => {
    let seq = 0;
    const ev = (type: string, data: object) => sse({ type, sequence_number: seq++, ...data }, type);
    const text = pieces.join('');
    const part = { type: 'output_text', text: '', annotations: [] };
    const item = { id: 'msg_standin', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    return [
      ev('response.created', { response: responseObject(model, '', 'in_progress', null) }),
      ev('response.in_progress', { response: responseObject(model, '', 'in_progress', null) }),
      ev('response.output_item.added', { output_index: 0, item }),
      ev('response.content_part.added', { item_id: 'msg_standin', output_index: 0, content_index: 0, part }),
      ...pieces.map((p) => ev('response.output_text.delta', { item_id: 'msg_standin', output_index: 0, content_index: 0, delta: p, logprobs: [] })),
      ev('response.output_text.done', { item_id: 'msg_standin', output_index: 0, content_index: 0, text, logprobs: [] }),
      ev('response.content_part.done', { item_id: 'msg_standin', output_index: 0, content_index: 0, part: { ...part, text } }),
      ev('response.output_item.done', { output_index: 0, item: { ...item, status: 'completed', content: [{ ...part, text }] } }),
      ev('response.completed', { response: responseObject(model, text, 'completed', usage ? responsesUsage(rec.usage) : null) }),
    ];
  },
  anthropic: (model, pieces, rec, usage) => {
    const ev = (type: string, data: object) => sse({ type, ...data }, type);
    const startUsage = usage ? { usage: anthropicUsage(rec.usage, 1) } : {};
    return [
      ev('message_start', {
        message: { id: 'msg_standin', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, ...startUsage },
      }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ev('ping', {}),
      ...pieces.map((p) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } })),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, ...(usage ? { usage: { output_tokens: rec.usage.output } } : {}) }),
      ev('message_stop', {}),
    ];
  },
};
