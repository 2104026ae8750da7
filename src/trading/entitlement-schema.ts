/**
 * The `trading` entitlements of a key or user record (`--trading JSON` in `keys`
 * and `users`), carried in `AuthContext.trading`.
 */
import { z } from 'zod';

export const tradingEntitlementSchema = z
  .object({
    exchanges: z.array(z.string().min(1)).default([]),
    order_types: z.array(z.string().min(1)).default([]),
    max_position_size_usd: z.number().nonnegative().optional(),
    daily_loss_limit_usd: z.number().nonnegative().optional(),
    max_daily_value_usd: z.number().nonnegative().optional(),
    /** Safer default: a record that does not say otherwise may only paper-trade. */
    paper_only: z.boolean().default(true),
    realtime_symbols_limit: z.number().int().nonnegative().optional(),
  })
  .strict();

export interface TradingEntitlements {
  readonly exchanges: readonly string[];
  readonly order_types: readonly string[];
  readonly max_position_size_usd?: number;
  readonly daily_loss_limit_usd?: number;
  /** Most order value (USD) per UTC day; checked in Redis before an order is forwarded. */
  readonly max_daily_value_usd?: number;
  readonly paper_only: boolean;
  readonly realtime_symbols_limit?: number;
}

declare module '../extensions/slots.js' {
  interface ExtensionEntitlements {
    readonly trading?: TradingEntitlements;
  }
}
