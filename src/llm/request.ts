/**
 * The LLM request body: collected up to a bound before forwarding, so the model
 * can be checked and the token budget reserved, then forwarded byte-identical,
 * except for one opt-in rewrite (OpenAI chat streams: ask for usage).
 */
import { deny, type Denial } from '../errors.js';
import { formatOf, type RouteLlmConfig } from './schema.js';
import { arr, count, field, str } from './usage/types.js';
import { estimateTokens } from './usage/extractor.js';

/** What the sidecar needs from a request body. */
export interface LlmRequestInfo {
  /** `model`, when the body is a JSON object naming one. */
  readonly model?: string;
  /** `max_tokens`, `max_completion_tokens` or `max_output_tokens`, when given. */
  readonly max_tokens?: number;
  /** `stream: true` in the body. */
  readonly stream: boolean;
  /** Estimated prompt tokens (≈ characters of text content / 4, plus per-message overhead). */
  readonly prompt_tokens: number;
  /** False when the body is not a JSON object (model unknown). */
  readonly json: boolean;
}

export interface InspectedRequest {
  readonly info: LlmRequestInfo;
  /** The bytes to forward: the original body, or the rewritten one. */
  readonly body: Uint8Array;
  /** True when `body` differs from the input: recompute Content-Length from `body.byteLength`. */
  readonly rewritten: boolean;
}

/** Accumulates a request body up to `maxBytes`; past it, a 413 denial. */
export interface RequestBodyCollector {
  /** Add a chunk; returns a denial once the body exceeds the bound (later chunks are dropped). */
  push(chunk: Uint8Array): Denial | null;
  /** The body so far, as one buffer. */
  body(): Uint8Array;
}

export function createRequestBodyCollector(maxBytes: number): RequestBodyCollector {
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new TypeError('llm: maxBytes must be a positive integer');
  let chunks: Uint8Array[] = [];
  let size = 0;
  let over: Denial | null = null;
  return {
    push(chunk) {
      if (over) return over;
      size += chunk.byteLength;
      if (size > maxBytes) {
        chunks = [];
        over = deny('ARGUS_PAYLOAD_TOO_LARGE', `LLM request body is larger than ${maxBytes} bytes`);
        return over;
      }
      chunks.push(Buffer.copyBytesFrom(chunk)); // copied: uWS reuses its ArrayBuffer after onData returns (`slice` on a Buffer would be a view)
      return null;
    },
    body: () => Buffer.concat(chunks, size),
  };
}

// Keys whose string values are not prompt text: base64 payloads, URLs, ids, enums.
const NOT_TEXT = new Set(['model', 'data', 'image_url', 'url', 'file_data', 'file_id', 'b64_json', 'id', 'type', 'role', 'tool_call_id', 'media_type']);

function textChars(v: unknown, depth: number): number {
  if (typeof v === 'string') return v.startsWith('data:') ? 0 : v.length;
  if (depth > 32 || v === null || typeof v !== 'object') return 0;
  let n = 0;
  if (Array.isArray(v)) for (const x of v) n += textChars(x, depth + 1);
  else for (const [k, x] of Object.entries(v)) if (!NOT_TEXT.has(k)) n += textChars(x, depth + 1);
  return n;
}

/** Prompt tokens of a parsed body: text in messages/input/system/prompt/instructions/tools. */
function promptTokens(body: object): number {
  let chars = 0;
  for (const key of ['messages', 'input', 'system', 'prompt', 'instructions', 'tools', 'functions']) {
    chars += textChars(field(body, key), 0);
  }
  // Chat formats add a few tokens of framing per message.
  const messages = arr(field(body, 'messages')).length + arr(field(body, 'input')).length;
  return estimateTokens(chars) + 4 * messages;
}

const ENC = new TextEncoder();
const INCLUDE_USAGE = ENC.encode('"stream_options":{"include_usage":true},');

/**
 * Read a collected body. With `route.include_usage` on an OpenAI chat route and
 * `stream: true`, the returned body asks for usage: when `stream_options` is
 * absent the member is spliced in after the opening brace (every other byte kept);
 * when present without `include_usage: true`, the body is re-serialised.
 * Never throws on body bytes: a non-JSON body yields `json: false`.
 */
export function inspectLlmRequest(body: Uint8Array, route: Pick<RouteLlmConfig, 'provider' | 'format' | 'include_usage'>): InspectedRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { info: { stream: false, prompt_tokens: estimateTokens(body.byteLength), json: false }, body, rewritten: false };
  }
  const model = str(field(parsed, 'model'));
  const maxTokens = count(field(parsed, 'max_tokens')) ?? count(field(parsed, 'max_completion_tokens')) ?? count(field(parsed, 'max_output_tokens'));
  const stream = field(parsed, 'stream') === true;
  const info: LlmRequestInfo = {
    ...(model !== undefined ? { model } : {}),
    ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    stream,
    prompt_tokens: promptTokens(parsed),
    json: true,
  };
  if (!(route.include_usage && stream && formatOf(route) === 'openai-chat')) return { info, body, rewritten: false };
  const options = field(parsed, 'stream_options');
  if (options === undefined) return { info, body: spliceIncludeUsage(body), rewritten: true };
  if (field(options, 'include_usage') === true) return { info, body, rewritten: false };
  const base = options !== null && typeof options === 'object' && !Array.isArray(options) ? options : {};
  const next = { ...(parsed as Record<string, unknown>), stream_options: { ...base, include_usage: true } };
  return { info, body: ENC.encode(JSON.stringify(next)), rewritten: true };
}

/** Insert the stream_options member right after the top-level `{`. */
function spliceIncludeUsage(body: Uint8Array): Uint8Array {
  const brace = body.indexOf(0x7b);
  // JSON.parse succeeded on an object, so the first non-space byte is "{".
  const out = new Uint8Array(body.byteLength + INCLUDE_USAGE.byteLength);
  out.set(body.subarray(0, brace + 1), 0);
  out.set(INCLUDE_USAGE, brace + 1);
  out.set(body.subarray(brace + 1), brace + 1 + INCLUDE_USAGE.byteLength);
  return out;
}
