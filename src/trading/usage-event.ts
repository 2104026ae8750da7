/**
 * The ledger's `trading` usage event (kind `trading`): the wire shape the billing
 * worker and the ledger read, built from a session's trading event.
 */
import { z } from 'zod';
import type { AuthContext } from '../request/principal.js';
import type { ReportedUsage } from '../extensions/contract.js';
import { usageAmount, usageCount, usageName } from '../meter/usage-fields.js';
import { eventId, registerUsageKind, type UsageEventBase } from '../meter/events.js';
import type { TradingUsageEvent as TradingSessionEvent } from './events.js';

export type TradingType = 'trade' | 'data_stream' | 'backtest';

export interface TradingUsageEvent extends UsageEventBase {
  readonly kind: 'trading';
  readonly exchange: string;
  readonly symbol: string;
  readonly trading_type: TradingType;
  readonly value_usd: number;
  readonly data_bytes: number;
  readonly compute_s: number;
}

/** The ledger event of a session's trading event (its id derives from the session event's id). */
export function tradingLedgerEvent(t: TradingSessionEvent, ctx: AuthContext | null, requestId: string): TradingUsageEvent {
  return {
    event_id: eventId(t.event_id, 'trading'),
    kind: 'trading',
    user_id: t.user_id,
    key_id: t.key_id ?? null,
    stripe_customer: ctx?.stripe_customer ?? null,
    service: t.service,
    route: t.route,
    request_id: requestId,
    occurred_at: Date.parse(t.occurred_at),
    quantity: t.quantity,
    exchange: t.trading.exchange,
    symbol: t.trading.symbol,
    trading_type: t.trading.event_type,
    value_usd: t.trading.value_usd,
    data_bytes: t.trading.data_bytes,
    compute_s: t.trading.compute_seconds,
  };
}

/** An `x-argus-usage` item of kind `trading` (docs/metering.md). */
export const tradingUsageItem = z
  .object({
    kind: z.literal('trading'),
    exchange: usageName,
    symbol: usageName,
    type: z.enum(['trade', 'data_stream', 'backtest']),
    quantity: usageAmount.default(1),
    value_usd: usageAmount.default(0),
    data_bytes: usageCount.default(0),
    compute_s: usageAmount.default(0),
  })
  .strict();

export type TradingUsageItem = z.infer<typeof tradingUsageItem>;

/** The `trading` event of a reported item. */
export const tradingReportedUsage: ReportedUsage = {
  item: tradingUsageItem,
  event(base, fields, id): TradingUsageEvent {
    const item = fields as TradingUsageItem;
    return {
      ...base,
      event_id: id,
      kind: 'trading',
      quantity: item.quantity,
      exchange: item.exchange,
      symbol: item.symbol,
      trading_type: item.type,
      value_usd: item.value_usd,
      data_bytes: item.data_bytes,
      compute_s: item.compute_s,
    };
  },
};

registerUsageKind('trading', [
  ['exchange', 'text'],
  ['symbol', 'text'],
  ['trading_type', 'text'],
  ['value_usd', 'numeric'],
  ['data_bytes', 'bigint'],
  ['compute_s', 'double precision'],
]);

declare module '../meter/events.js' {
  interface UsageEventKinds {
    trading: TradingUsageEvent;
  }
}
