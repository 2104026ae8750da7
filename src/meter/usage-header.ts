/**
 * `x-argus-usage`: usage an upstream reports about the response it sent (how
 * Sibyl reports predictions and Jane trade values). The proxy validates it,
 * strips it from the response and meters it.
 *
 * Value: one JSON object or an array of up to {@link MAX_USAGE_ITEMS}, each one of
 *   {"kind":"request","quantity":3}                       billable units of this request (e.g. predictions)
 *   {"kind":"llm","provider":"openai","model":"gpt-4o","input_tokens":10,"output_tokens":20,"cost_usd":0.0004}
 *   {"kind":"trading","exchange":"binance","symbol":"BTCUSDT","type":"trade","quantity":1,"value_usd":120.5}
 * Unknown keys, non-finite or negative numbers, oversized values and odd
 * characters are rejected as a whole: a malformed report meters nothing extra
 * (the route's own request event still counts) and the caller logs the reason.
 */
import { z } from 'zod';

export const USAGE_HEADER = 'x-argus-usage';
export const MAX_USAGE_HEADER_BYTES = 4096;
export const MAX_USAGE_ITEMS = 16;

const name = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/, 'letters, digits and ._:/@+-');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const amount = z.number().nonnegative().max(1e15);

const requestItem = z
  .object({
    kind: z.literal('request'),
    quantity: amount,
  })
  .strict();

const llmItem = z
  .object({
    kind: z.literal('llm'),
    provider: name,
    model: name,
    input_tokens: count,
    output_tokens: count,
    cost_usd: amount.default(0),
    latency_ms: amount.optional(),
  })
  .strict();

const tradingItem = z
  .object({
    kind: z.literal('trading'),
    exchange: name,
    symbol: name,
    type: z.enum(['trade', 'data_stream', 'backtest']),
    quantity: amount.default(1),
    value_usd: amount.default(0),
    data_bytes: count.default(0),
    compute_s: amount.default(0),
  })
  .strict();

const itemSchema = z.discriminatedUnion('kind', [requestItem, llmItem, tradingItem]);

export type UsageItem = z.infer<typeof itemSchema>;
export type RequestUsageItem = z.infer<typeof requestItem>;
export type LlmUsageItem = z.infer<typeof llmItem>;
export type TradingUsageItem = z.infer<typeof tradingItem>;

/**
 * Parse and validate an `x-argus-usage` value. Never throws.
 * @returns the items in order, or the reason the whole header was rejected.
 */
export function parseUsageHeader(value: string): { ok: true; usage: UsageItem[] } | { ok: false; reason: string } {
  if (typeof value !== 'string') return { ok: false, reason: 'not a string' };
  if (Buffer.byteLength(value, 'utf8') > MAX_USAGE_HEADER_BYTES) return { ok: false, reason: `longer than ${MAX_USAGE_HEADER_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) return { ok: false, reason: 'empty list' };
  if (list.length > MAX_USAGE_ITEMS) return { ok: false, reason: `more than ${MAX_USAGE_ITEMS} items` };
  const usage: UsageItem[] = [];
  for (let i = 0; i < list.length; i++) {
    const parsed = itemSchema.safeParse(list[i]);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'item';
      return { ok: false, reason: `[${i}] ${where}: ${issue?.message ?? 'invalid'}` };
    }
    usage.push(parsed.data);
  }
  if (usage.filter((u) => u.kind === 'request').length > 1) return { ok: false, reason: 'more than one "request" item' };
  return { ok: true, usage };
}
