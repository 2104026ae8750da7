/**
 * The ledger's `llm` usage event (kind `llm`, one per LLM call): the wire shape
 * the billing worker and the ledger read (src/meter/events.ts lists its columns).
 */
import { z } from 'zod';
import type { ReportedUsage, UsageBase } from '../extensions/contract.js';
import { usageAmount, usageCount, usageName } from '../meter/usage-fields.js';
import type { UsageEventBase } from '../meter/events.js';
import { registerUsageKind, sidecarEventId } from '../meter/events.js';
import type { LlmEventFields } from './event.js';

export interface LlmUsageEvent extends UsageEventBase {
  readonly kind: 'llm';
  readonly provider: string;
  readonly model: string;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly latency_ms: number;
  readonly cost_usd: number;
  readonly cached_input_tokens?: number;
  /** Request start → first output content. */
  readonly ttft_ms?: number;
  /** Counts estimated (the provider reported none). */
  readonly estimated?: boolean;
  /** The response was not read to its end (client abort, drain limit, upstream cut). */
  readonly partial?: boolean;
}

/** The `llm` event of one request (its id derives from the sidecar's event key: re-sent, it is the same event). */
export function llmUsageEvent(base: UsageBase, eventKey: string, e: LlmEventFields): LlmUsageEvent {
  return {
    ...base,
    event_id: sidecarEventId(eventKey, 'llm'),
    kind: 'llm',
    occurred_at: Math.round(Date.now() - e.latency_ms),
    quantity: e.input_tokens + e.output_tokens,
    provider: e.provider,
    model: e.model,
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    latency_ms: e.latency_ms,
    cost_usd: e.cost_usd,
    ...(e.cached_input_tokens !== undefined ? { cached_input_tokens: e.cached_input_tokens } : {}),
    ...(e.ttft_ms !== undefined ? { ttft_ms: e.ttft_ms } : {}),
    estimated: e.estimated,
    partial: e.partial,
  };
}

/** An `x-argus-usage` item of kind `llm` (docs/metering.md). */
export const llmUsageItem = z
  .object({
    kind: z.literal('llm'),
    provider: usageName,
    model: usageName,
    input_tokens: usageCount,
    output_tokens: usageCount,
    cost_usd: usageAmount.default(0),
    latency_ms: usageAmount.optional(),
  })
  .strict();

export type LlmUsageItem = z.infer<typeof llmUsageItem>;

/** The `llm` event of a reported item (or a measured fact of the same fields; a missing cost is 0). */
export const llmReportedUsage: ReportedUsage = {
  item: llmUsageItem,
  event(base, fields, id, latencyMs): LlmUsageEvent {
    const item = fields as Omit<LlmUsageItem, 'kind' | 'cost_usd'> & { cost_usd?: number };
    return {
      ...base,
      event_id: id,
      kind: 'llm',
      quantity: item.input_tokens + item.output_tokens,
      provider: item.provider,
      model: item.model,
      input_tokens: item.input_tokens,
      output_tokens: item.output_tokens,
      latency_ms: item.latency_ms ?? latencyMs,
      cost_usd: item.cost_usd ?? 0,
    };
  },
};

registerUsageKind('llm', [
  ['provider', 'text'],
  ['model', 'text'],
  ['input_tokens', 'bigint'],
  ['output_tokens', 'bigint'],
  ['cost_usd', 'numeric'],
  ['cached_input_tokens', 'bigint'],
  ['ttft_ms', 'double precision'],
  ['estimated', 'boolean'],
  ['partial', 'boolean'],
]);

declare module '../meter/events.js' {
  interface UsageEventKinds {
    llm: LlmUsageEvent;
  }
}
