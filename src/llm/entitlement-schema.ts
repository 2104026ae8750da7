/**
 * The `llm` entitlements of a key or user record (`--llm JSON` in `keys` and
 * `users`), carried in `AuthContext.llm`: which models, the daily token budget,
 * the caller's own requests per minute.
 */
import { z } from 'zod';

export const llmEntitlementSchema = z
  .object({
    models: z.array(z.string().min(1)).default([]),
    model_tiers: z.array(z.string().min(1)).default([]),
    daily_token_budget: z.number().int().nonnegative().optional(),
    requests_per_minute: z.number().int().positive().optional(),
  })
  .strict();

export interface LlmEntitlements {
  /** Allowed model names; empty = any model in the allowed tiers. */
  readonly models: readonly string[];
  /** Allowed model tiers (economy, balanced, reasoning). */
  readonly model_tiers: readonly string[];
  readonly daily_token_budget?: number;
  readonly requests_per_minute?: number;
}

declare module '../extensions/slots.js' {
  interface ExtensionEntitlements {
    readonly llm?: LlmEntitlements;
  }
}
