/**
 * Config schema of the top-level `trading:` section: how the sidecar recognises
 * order messages (client → upstream) and position/P&L reports (upstream → client)
 * in a trading WebSocket session, and the limits it enforces on them.
 *
 * Defaults describe Jane's protocol:
 * ```yaml
 * trading:
 *   max_message_bytes: 65536       # bigger client messages are refused, never forwarded uninspected
 *   non_json: reject               # reject | forward: client text that is not a JSON object
 *   binary: inspect                # inspect | forward | reject: client binary frames
 *   order:
 *     match: { path: type, values: [order] }
 *     exchange: exchange
 *     order_type: order_type
 *     symbol: symbol
 *     side: side
 *     quantity: quantity
 *     price: price
 *     # value_usd: notional_usd    # optional; else value = quantity × price
 *     client_order_id: client_order_id
 *     mode: { path: mode, paper: [paper], default: live }
 *   report:
 *     match: { path: type, values: [position] }
 *     realized_pnl_usd: realized_pnl_usd
 *     pnl: delta                   # delta | daily_total
 *     # id: report_id              # optional: count each report once across sessions
 *   limits: {}                     # max_daily_value_usd, daily_loss_limit_usd when the entitlement has none
 *   redis_timeout_ms: 500
 *   data_stream_interval_ms: 60000
 * ```
 * Paths are dot paths into the JSON message (`order.exchange`, `params.0.symbol`:
 * all-digit segments index arrays).
 */
import { z } from 'zod';

const PATH = /^[A-Za-z0-9_$@-]{1,64}(\.[A-Za-z0-9_$@-]{1,64}){0,7}$/;

/** A dot path into a JSON message: up to 8 segments of `[A-Za-z0-9_$@-]`. */
export const jsonPath = z.string().regex(PATH, 'a dot path like "type" or "order.exchange" (up to 8 segments of letters, digits, _ $ @ -)');

const matchSchema = (value: string) =>
  z
    .object({
      path: jsonPath.default('type'),
      /** Values (compared trimmed and case-insensitively) that mark the message. */
      values: z.array(z.string().min(1).max(64)).min(1).default([value]),
    })
    .strict();

const orderSchema = z
  .object({
    match: matchSchema('order').default({}),
    exchange: jsonPath.default('exchange'),
    order_type: jsonPath.default('order_type'),
    symbol: jsonPath.default('symbol'),
    side: jsonPath.default('side'),
    quantity: jsonPath.default('quantity'),
    price: jsonPath.default('price'),
    /**
     * Path of the order's value in USD. When the price is also known, the larger of
     * this and quantity × price counts (a client cannot shrink its order's value).
     */
    value_usd: jsonPath.optional(),
    client_order_id: jsonPath.default('client_order_id'),
    mode: z
      .object({
        path: jsonPath.default('mode'),
        /** Values meaning paper trading (strings compared case-insensitively; `true` for a boolean flag). */
        paper: z
          .array(z.union([z.string().min(1).max(64), z.boolean()]))
          .min(1)
          .default(['paper']),
        /** A message without the field: treated as live unless this says paper (fail closed). */
        default: z.enum(['live', 'paper']).default('live'),
      })
      .strict()
      .default({}),
  })
  .strict();

const reportSchema = z
  .object({
    match: matchSchema('position').default({}),
    realized_pnl_usd: jsonPath.default('realized_pnl_usd'),
    /**
     * `delta`: each report carries P&L realized since the previous one (summed).
     * `daily_total`: each report carries the user's realized P&L for the day (replaces).
     * The default counts every report, which can only overstate a loss.
     */
    pnl: z.enum(['delta', 'daily_total']).default('delta'),
    /** Path of a report id: a report seen on several sessions/sidecars counts once. */
    id: jsonPath.optional(),
  })
  .strict();

export const tradingSchema = z
  .object({
    max_message_bytes: z
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
    non_json: z.enum(['reject', 'forward']).default('reject'),
    binary: z.enum(['inspect', 'forward', 'reject']).default('inspect'),
    order: orderSchema.default({}),
    report: reportSchema.default({}),
    /** Used when the caller's trading entitlement sets no limit of its own. */
    limits: z
      .object({
        max_daily_value_usd: z.number().nonnegative().optional(),
        daily_loss_limit_usd: z.number().nonnegative().optional(),
      })
      .strict()
      .default({}),
    /** How long an order may wait for Redis before it is refused (503-class). */
    redis_timeout_ms: z.number().int().positive().max(5000).default(500),
    /** Period of `data_stream` usage events per session (one more at close). */
    data_stream_interval_ms: z.number().int().min(1000).default(60_000),
    /** Client messages held while an earlier order waits for Redis; more: the caller closes 1013. */
    max_pending_messages: z.number().int().min(1).max(10_000).default(256),
  })
  .strict();

export type TradingConfig = z.infer<typeof tradingSchema>;
