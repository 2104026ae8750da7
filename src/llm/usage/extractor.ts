/**
 * `createUsageExtractor`: reads token usage from an LLM response body as it
 * streams through, for the route's format, without holding the body: an SSE
 * stream is parsed incrementally (bounded per event); a non-streamed JSON body is
 * collected up to `maxBodyBytes` and parsed at the end. When the provider
 * reported no usage, counts are estimated (≈ characters / 4) and marked so.
 */
import { createSseParser, type SseEvent } from '../sse.js';
import { formatOf, type RouteLlmConfig } from '../schema.js';
import { anthropicReader } from './anthropic.js';
import { jsonPathReader } from './json-path.js';
import { openaiChatReader } from './openai-chat.js';
import { openaiResponsesReader } from './openai-responses.js';
import type { FormatReader, LlmUsage, UsageAccumulator, UsageExtractor } from './types.js';

export interface UsageExtractorOptions {
  /** Clock for `first_token_at`. Default `Date.now`. */
  now?: () => number;
  /** The request's `model`, reported when the response names none. */
  requestModel?: string;
  /** Estimated prompt tokens (from `inspectLlmRequest`), used when input usage is missing. */
  promptTokens?: number;
  /** Non-streamed bodies are parsed only up to this size. Default 4 MiB; past it: estimated from size. */
  maxBodyBytes?: number;
  /** Largest SSE event. Default 1 MiB; past it the stream is no longer read (estimated, incomplete). */
  maxEventSize?: number;
}

/** ≈ 4 characters per token for English text with common BPE tokenizers. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** True when a Content-Type names an SSE stream. */
export function isEventStream(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return contentType.split(';', 1)[0]!.trim().toLowerCase() === 'text/event-stream';
}

/** The route options an extractor needs (a whole `routes[].llm` fits). */
export type ExtractorRoute = Pick<RouteLlmConfig, 'provider' | 'format'> & { usage?: RouteLlmConfig['usage'] };

function readerFor(route: ExtractorRoute): FormatReader {
  switch (formatOf(route)) {
    case 'openai-chat':
      return openaiChatReader();
    case 'openai-responses':
      return openaiResponsesReader();
    case 'anthropic':
      return anthropicReader();
    case 'json':
      return jsonPathReader(route.usage ?? {});
  }
}

/**
 * Pick the extractor for a route and the response's Content-Type
 * (`text/event-stream` → SSE, anything else → one JSON body). One per response.
 */
export function createUsageExtractor(route: ExtractorRoute, contentType: string | undefined, opts: UsageExtractorOptions = {}): UsageExtractor {
  const now = opts.now ?? Date.now;
  const maxBodyBytes = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const reader = readerFor(route);
  const acc: UsageAccumulator = { outputChars: 0, sawContent: false, complete: false };
  let firstTokenAt: number | undefined;
  let result: LlmUsage | undefined;

  const stamp = () => {
    if (firstTokenAt === undefined && acc.sawContent) firstTokenAt = now();
  };

  const push = isEventStream(contentType) ? ssePush() : jsonPush();

  function ssePush(): { push(c: Uint8Array): void; end(): void } {
    const onEvent = (e: SseEvent) => {
      const d = e.data;
      const c = d.charCodeAt(0);
      let parsed: unknown;
      let ok = false;
      if (c === 123 /* { */ || c === 91 /* [ */) {
        try {
          parsed = JSON.parse(d);
          ok = true;
        } catch {
          ok = false; // "[DONE]" or a broken event: handled as raw
        }
      }
      if (ok) reader.event(e.type, parsed, acc);
      else reader.rawEvent?.(e.type, d, acc);
    };
    const parser = createSseParser(opts.maxEventSize === undefined ? { onEvent } : { onEvent, maxEventSize: opts.maxEventSize });
    return {
      push(chunk) {
        parser.push(chunk);
        stamp();
      },
      end: () => parser.end(),
    };
  }

  function jsonPush(): { push(c: Uint8Array): void; end(): void } {
    let chunks: Uint8Array[] = [];
    let size = 0;
    return {
      push(chunk) {
        if (chunk.byteLength === 0) return;
        if (firstTokenAt === undefined) firstTokenAt = now();
        size += chunk.byteLength;
        // Copied: the caller may reuse its buffer (the h1 client and uWS do) after push returns.
        // (Not `chunk.slice()`: on a Buffer that is a view.)
        if (size <= maxBodyBytes) chunks.push(Buffer.copyBytesFrom(chunk));
        else chunks = []; // too big to parse: estimated from its size at the end
      },
      end() {
        if (size > maxBodyBytes) {
          acc.outputChars = size;
          return;
        }
        let data: unknown;
        try {
          data = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
        } catch {
          return; // not JSON (an error page, a cut body): nothing produced
        }
        reader.body(data, acc);
        chunks = [];
      },
    };
  }

  return {
    push(chunk: Uint8Array): void {
      if (result === undefined) push.push(chunk);
    },
    get complete() {
      return acc.complete;
    },
    snapshot(): LlmUsage {
      return result ?? settleCounts(acc, opts, firstTokenAt);
    },
    finish(): LlmUsage {
      if (result) return result;
      push.end();
      result = settleCounts(acc, opts, firstTokenAt);
      return result;
    },
  };
}

function settleCounts(acc: UsageAccumulator, opts: UsageExtractorOptions, firstTokenAt: number | undefined): LlmUsage {
  let input = acc.input;
  let output = acc.output;
  let estimated = false;
  const total = acc.total;
  if (total !== undefined) {
    if (input === undefined && output !== undefined) input = Math.max(0, total - output);
    else if (output === undefined && input !== undefined) output = Math.max(0, total - input);
    else if (input === undefined && output === undefined) {
      // Only a total: split it using the prompt estimate.
      input = Math.min(opts.promptTokens ?? 0, total);
      output = total - input;
      estimated = true;
    }
  }
  if (input === undefined) {
    input = opts.promptTokens ?? 0;
    estimated = true;
  }
  if (output === undefined) {
    output = estimateTokens(acc.outputChars);
    estimated = true;
  }
  const model = acc.model ?? opts.requestModel;
  const usage: { -readonly [K in keyof LlmUsage]: LlmUsage[K] } = { input_tokens: input, output_tokens: output, estimated, complete: acc.complete };
  if (model !== undefined) usage.model = model;
  if (acc.cached !== undefined) usage.cached_input_tokens = Math.min(acc.cached, input);
  if (firstTokenAt !== undefined) usage.first_token_at = firstTokenAt;
  return usage;
}
