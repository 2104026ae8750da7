/**
 * Token usage read from an LLM response, and the per-format readers that fill it.
 */

/** What one response used. Token counts are integers ≥ 0. */
export interface LlmUsage {
  /** The model that answered (response's own field), else the request's model. */
  readonly model?: string;
  /** All input tokens, cached ones included. */
  readonly input_tokens: number;
  readonly output_tokens: number;
  /** The part of input_tokens served from the provider's prompt cache, when reported. */
  readonly cached_input_tokens?: number;
  /** True when any count is an estimate (≈ characters / 4) instead of the provider's report. */
  readonly estimated: boolean;
  /**
   * True when the response's end marker was seen: the terminal SSE event of the
   * format (`[DONE]`, `response.completed`, `message_stop`…) or a JSON body that
   * parsed. False for a stream cut short: meter it as partial.
   */
  readonly complete: boolean;
  /** Clock value (the injected `now()`) when the first output content arrived. */
  readonly first_token_at?: number;
}

/**
 * Fed the raw response body chunk by chunk, in order, exactly as received from
 * the upstream (before or while it is written to the client). Never throws on
 * input bytes; memory is bounded.
 */
export interface UsageExtractor {
  /** The chunk is read (or copied) before this returns; the caller may reuse its buffer. */
  push(chunk: Uint8Array): void;
  /** The format's end marker (carrying final usage) has been seen: a drain can stop here. */
  readonly complete: boolean;
  /** Call once when the body ended, was aborted, or draining gave up. Idempotent. */
  finish(): LlmUsage;
  /** The usage so far (counts from what was read; estimated where the provider has not reported yet). */
  snapshot(): LlmUsage;
}

/** Mutable state a format reader fills while the response streams. */
export interface UsageAccumulator {
  model?: string;
  input?: number;
  output?: number;
  cached?: number;
  /** Reported total (json format only), used to fill a missing input or output count. */
  total?: number;
  /** Characters of output content seen (text, tool-call arguments): the estimate's basis. */
  outputChars: number;
  /** Set by readers when output content arrives; the extractor stamps the time. */
  sawContent: boolean;
  complete: boolean;
}

/** Reads one format. `data` is the parsed JSON of an SSE event or the whole body. */
export interface FormatReader {
  /** One SSE event: `type` is its `event:` field ("message" when absent). */
  event(type: string, data: unknown, acc: UsageAccumulator): void;
  /** An SSE event whose data is not JSON (e.g. OpenAI's `[DONE]`). */
  rawEvent?(type: string, data: string, acc: UsageAccumulator): void;
  /** A non-streamed JSON body. */
  body(data: unknown, acc: UsageAccumulator): void;
}

/** Property access on untrusted JSON: undefined unless `v` is a plain object. */
export function field(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
}

/** A token count from untrusted JSON: a finite number ≥ 0, rounded; else undefined. */
export function count(v: unknown): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return undefined;
  return Math.round(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Add output characters; marks content seen when there were any. */
export function addText(acc: UsageAccumulator, text: unknown): void {
  if (typeof text === 'string' && text.length > 0) {
    acc.outputChars += text.length;
    acc.sawContent = true;
  }
}

/** Resolve a dot path (`usage.total_tokens`, `choices.0.x`) in untrusted JSON. */
export function getPath(root: unknown, path: readonly string[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(seg)) return undefined;
      cur = cur[Number(seg)];
    } else {
      cur = field(cur, seg);
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}
