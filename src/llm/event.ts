/**
 * The `llm` usage event's fields, built once per request from the extracted
 * usage, the price table and the request's timings.
 */
import type { PriceTable } from './prices.js';
import type { LlmUsage } from './usage/types.js';

/** Dimensions of one `llm` usage event (ledger columns: provider, model, tokens, cost). */
export interface LlmEventFields {
  readonly provider: string;
  /** Response model, else request model, else "unknown". */
  readonly model: string;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cached_input_tokens?: number;
  readonly cost_usd: number;
  /** False: no price for this model, cost_usd is 0 (reprice later). */
  readonly priced: boolean;
  /** Counts are estimates (the provider reported none). */
  readonly estimated: boolean;
  /** The response was not seen to its end (client abort in `abort` mode, drain gave up, upstream cut). */
  readonly partial: boolean;
  /** Request start → first output content, ms; absent when none arrived. */
  readonly ttft_ms?: number;
  /** Request start → end of the upstream response (or giving up), ms. */
  readonly latency_ms: number;
}

export interface LlmEventInput {
  provider: string;
  /** The request body's `model`. */
  requestModel?: string;
  usage: LlmUsage;
  prices: PriceTable;
  /** Same clock as the extractor's `now`. */
  startedAt: number;
  endedAt: number;
  /** True when the forwarder stopped reading early (abort mode, drain limit, upstream error). */
  cutShort: boolean;
}

export function buildLlmEvent(input: LlmEventInput): LlmEventFields {
  const { usage } = input;
  const model = usage.model ?? input.requestModel ?? 'unknown';
  const cost = input.prices.cost(input.provider, [usage.model, input.requestModel], usage);
  return {
    provider: input.provider,
    model,
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    ...(usage.cached_input_tokens !== undefined ? { cached_input_tokens: usage.cached_input_tokens } : {}),
    cost_usd: cost.cost_usd,
    priced: cost.priced,
    estimated: usage.estimated,
    partial: input.cutShort || !usage.complete,
    ...(usage.first_token_at !== undefined ? { ttft_ms: Math.max(0, usage.first_token_at - input.startedAt) } : {}),
    latency_ms: Math.max(0, input.endedAt - input.startedAt),
  };
}
