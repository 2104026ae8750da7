/**
 * `x-argus-usage`: usage an upstream reports about the response it sent (e.g.
 * predictions). The proxy validates it, strips it from the response and meters it.
 *
 * Value: one JSON object or an array of up to {@link MAX_USAGE_ITEMS}, each one of
 *   {"kind":"request","quantity":3}      billable units of this request (e.g. predictions)
 * or an item of an extension's kind (its `reportedUsage.item` schema; the kinds
 * and their fields: docs/metering.md).
 * Unknown keys, non-finite or negative numbers, oversized values and odd
 * characters are rejected as a whole: a malformed report meters nothing extra
 * (the route's own request event still counts) and the caller logs the reason.
 */
import { z } from 'zod';
import '../extensions/registry.js';
import { registeredExtensions, registrationGeneration } from '../extensions/registered.js';
import { usageAmount } from './usage-fields.js';

export const USAGE_HEADER = 'x-argus-usage';
export const MAX_USAGE_HEADER_BYTES = 4096;
export const MAX_USAGE_ITEMS = 16;

const requestItem = z
  .object({
    kind: z.literal('request'),
    quantity: usageAmount,
  })
  .strict();

/** A validated item: `request`, or an extension's kind (its `reportedUsage.item`). */
export type UsageItem = RequestUsageItem | { readonly kind: string; readonly [field: string]: unknown };
export type RequestUsageItem = z.infer<typeof requestItem>;

let union: { generation: number; schema: z.ZodTypeAny } | undefined;

/** `request` plus every registered extension's item, discriminated by `kind`. */
function itemSchema(): z.ZodTypeAny {
  const generation = registrationGeneration();
  if (union?.generation !== generation) {
    const items = registeredExtensions().flatMap((e) => (e.reportedUsage ? [e.reportedUsage.item] : []));
    union = { generation, schema: z.discriminatedUnion('kind', [requestItem, ...items] as unknown as [typeof requestItem]) };
  }
  return union.schema;
}

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
    const parsed = itemSchema().safeParse(list[i]);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'item';
      return { ok: false, reason: `[${i}] ${where}: ${issue?.message ?? 'invalid'}` };
    }
    usage.push(parsed.data as UsageItem);
  }
  if (usage.filter((u) => u.kind === 'request').length > 1) return { ok: false, reason: 'more than one "request" item' };
  return { ok: true, usage };
}
