/**
 * The ledger's `trading` usage event (kind `trading`): the wire shape the billing
 * worker and the ledger read, built from a session's trading event.
 */
import type { AuthContext } from '../authenticate/context.js';
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
