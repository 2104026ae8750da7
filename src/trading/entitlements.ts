/**
 * Per-order entitlement checks (no I/O) and the error frame a refused order gets.
 *
 * A refused order is not forwarded; the client receives a JSON error message on
 * the same WebSocket and the session stays open.
 */
import { deny, type Denial } from '../errors.js';
import './errors.js';
import type { TradingEntitlements } from './entitlement-schema.js';
import type { Order } from './orders.js';

const fold = (s: string) => s.trim().toLowerCase();

/**
 * Null when `trading` allows `order`, else the first failing check, in this order:
 * no entitlement (ARGUS_TRADING_NOT_ALLOWED), exchange (ARGUS_TRADING_EXCHANGE_NOT_ALLOWED),
 * order type (ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED), live order for a paper-only
 * account (ARGUS_TRADING_PAPER_ONLY), value above `max_position_size_usd`
 * (ARGUS_TRADING_POSITION_LIMIT; also when the limit is set and the order's value
 * cannot be known, e.g. a market order without a price or value field).
 *
 * Exchanges and order types compare trimmed and case-insensitively; an empty list
 * allows nothing (fail closed, as the route-level trading check does).
 */
export function checkOrder(order: Order, trading: TradingEntitlements | undefined): Denial | null {
  if (trading === undefined) return deny('ARGUS_TRADING_NOT_ALLOWED', 'no trading entitlement for this account');
  const exchange = fold(order.exchange);
  if (!trading.exchanges.some((x) => fold(x) === exchange)) {
    return deny('ARGUS_TRADING_EXCHANGE_NOT_ALLOWED', `exchange ${quote(order.exchange)} is not allowed for this account`);
  }
  const type = fold(order.orderType);
  if (!trading.order_types.some((x) => fold(x) === type)) {
    return deny('ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED', `order type ${quote(order.orderType)} is not allowed for this account`);
  }
  if (order.live && trading.paper_only) {
    return deny('ARGUS_TRADING_PAPER_ONLY', 'this account may only place paper orders');
  }
  const max = trading.max_position_size_usd;
  if (max !== undefined) {
    if (order.valueUsd === undefined) return deny('ARGUS_TRADING_POSITION_LIMIT', 'order value unknown (no price or value): cannot check the position limit');
    if (order.valueUsd > max)
      return deny('ARGUS_TRADING_POSITION_LIMIT', `order value ${usd(order.valueUsd)} USD is above the position limit of ${usd(max)} USD`);
  }
  return null;
}

export { errorFrame } from '../forward/ws-frames.js';

/** Client text in a message: bounded and JSON-quoted so it cannot break the frame or a log line. */
function quote(s: string): string {
  return JSON.stringify(s.slice(0, 64));
}

function usd(x: number): string {
  return x.toFixed(2);
}
