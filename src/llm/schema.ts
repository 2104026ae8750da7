/**
 * Config schemas for LLM metering: the top-level `llm:` section (prices, model
 * tiers) and the per-route `routes[].llm` options.
 */
import { z } from 'zod';

const priceSchema = z
  .object({
    /** USD per million (uncached) input tokens. */
    input_per_mtok: z.number().nonnegative(),
    /** USD per million output tokens. */
    output_per_mtok: z.number().nonnegative(),
    /** USD per million cached input tokens; default: the input price. */
    cached_input_per_mtok: z.number().nonnegative().optional(),
  })
  .strict();

/** A model name, or a glob with `*` (any run of characters) and `?` (one character). */
const modelPattern = z.string().min(1).max(200);

/**
 * Top-level `llm:` section.
 *
 * ```yaml
 * llm:
 *   prices:
 *     openai: { gpt-4o-mini: { input_per_mtok: 0.15, output_per_mtok: 0.6, cached_input_per_mtok: 0.075 } }
 *   model_tiers:
 *     economy: [gpt-4o-mini, "claude-3-5-haiku*"]
 *     reasoning: ["o3*", "claude-opus-*"]
 * ```
 */
export const llmSchema = z
  .object({
    /** provider → model (name or glob) → price. Unknown models cost 0 and are flagged. */
    prices: z.record(z.string().min(1), z.record(modelPattern, priceSchema)).default({}),
    /** tier (economy, balanced, reasoning, …) → model names or globs. */
    model_tiers: z.record(z.string().min(1), z.array(modelPattern)).default({}),
  })
  .strict();

/** Dot path into a JSON document: `usage.total_tokens`, `choices.0.usage.x`. */
const jsonPath = z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, 'a dot path such as "usage.total_tokens"');

/**
 * Per-route `routes[].llm` options.
 *
 * `format` picks the usage extractor (default: from the provider: openai →
 * openai-chat, anthropic → anthropic, anything else → json). `usage` paths apply
 * to format `json` only.
 */
export const routeLlmSchema = z
  .object({
    provider: z.string().min(1),
    format: z.enum(['openai-chat', 'openai-responses', 'anthropic', 'json']).optional(),
    usage: z
      .object({
        input_path: jsonPath.optional(),
        output_path: jsonPath.optional(),
        total_path: jsonPath.optional(),
        cached_input_path: jsonPath.optional(),
        model_path: jsonPath.optional(),
      })
      .strict()
      .default({}),
    /** Client went away mid-stream: keep reading the upstream for its usage (drain) or cancel it (abort). */
    on_client_abort: z.enum(['drain', 'abort']).default('drain'),
    /** drain: give up after this long… */
    drain_timeout_ms: z.number().int().positive().default(60000),
    /** …or after this many more upstream bytes. */
    drain_max_bytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024),
    /** OpenAI chat streams: add `stream_options.include_usage: true` to the request. */
    include_usage: z.boolean().default(false),
    /** Request bodies up to this size are read for model/max_tokens; larger ones are refused (413). */
    max_request_body_bytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Output tokens reserved against the daily budget when the request names no max_tokens. */
    default_max_tokens: z.number().int().positive().default(4096),
  })
  .strict();

export type LlmConfig = z.infer<typeof llmSchema>;
export type RouteLlmConfig = z.infer<typeof routeLlmSchema>;
export type LlmFormat = NonNullable<RouteLlmConfig['format']>;
export type ModelPrice = z.infer<typeof priceSchema>;

/** The format a route's usage is read in: explicit `format`, else derived from `provider`. */
export function formatOf(route: Pick<RouteLlmConfig, 'provider' | 'format'>): LlmFormat {
  if (route.format) return route.format;
  const p = route.provider.toLowerCase();
  if (p === 'openai' || p === 'azure-openai') return 'openai-chat';
  if (p === 'anthropic') return 'anthropic';
  return 'json';
}
