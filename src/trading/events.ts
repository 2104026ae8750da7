/**
 * Trading usage events: one `trade` per accepted order and `data_stream` events
 * per WebSocket session (bytes each way since the previous report, periodically
 * and at close). Plain objects for the metering queue (ledger kind `trading`).
 *
 * `event_id` is sha256(request id, event type, sequence): a session's events get
 * the same ids when re-sent, so the ledger's unique `event_id` drops duplicates.
 */
import { createHash } from 'node:crypto';
import type { AuthContext } from '../request/principal.js';
import type { Order } from './orders.js';

export type TradingEventType = 'trade' | 'data_stream';

export interface TradingUsageEvent {
  readonly event_id: string;
  readonly kind: 'trading';
  readonly user_id: string;
  readonly key_id?: string;
  readonly service: string;
  readonly route: string;
  /** ISO 8601. */
  readonly occurred_at: string;
  /** trade: the order's quantity; data_stream: bytes both ways. */
  readonly quantity: number;
  readonly trading: {
    readonly event_type: TradingEventType;
    /** trade only ('' for data_stream). */
    readonly exchange: string;
    readonly symbol: string;
    readonly side?: string;
    readonly order_type?: string;
    readonly live?: boolean;
    /** trade: order value in USD (0 when unknown); data_stream: 0. */
    readonly value_usd: number;
    /** data_stream: bytes both ways in the period; trade: 0. */
    readonly data_bytes: number;
    readonly bytes_from_client?: number;
    readonly bytes_to_client?: number;
    /** data_stream: seconds of the period the session was open; trade: 0. */
    readonly compute_seconds: number;
  };
}

export interface TradingMeterOptions {
  readonly requestId: string;
  readonly ctx: Pick<AuthContext, 'user_id' | 'key_id'>;
  /** Service name (config metering.service). */
  readonly service: string;
  /** The route's configured path. */
  readonly route: string;
  /** Clock in ms. Default Date.now. */
  readonly now?: () => number;
}

export interface TradingMeter {
  /** The event for an accepted (forwarded) order. */
  trade(order: Order): TradingUsageEvent;
  /**
   * A data_stream event for the bytes since the previous call, given the session's
   * running totals. Null when nothing moved and `final` is false (no empty periodic events).
   */
  dataStream(totalFromClient: number, totalToClient: number, final: boolean): TradingUsageEvent | null;
}

/** sha256 hex of request id, event type and sequence number. */
export function tradingEventId(requestId: string, type: TradingEventType, sequence: number): string {
  return createHash('sha256').update(`${requestId}\0trading:${type}\0${sequence}`).digest('hex');
}

export function createTradingMeter(opts: TradingMeterOptions): TradingMeter {
  const now = opts.now ?? Date.now;
  let trades = 0;
  let streams = 0;
  let lastFromClient = 0;
  let lastToClient = 0;
  let periodStart = now();

  function base(type: TradingEventType, sequence: number, at: number, quantity: number) {
    return {
      event_id: tradingEventId(opts.requestId, type, sequence),
      kind: 'trading' as const,
      user_id: opts.ctx.user_id,
      ...(opts.ctx.key_id !== undefined && { key_id: opts.ctx.key_id }),
      service: opts.service,
      route: opts.route,
      occurred_at: new Date(at).toISOString(),
      quantity,
    };
  }

  function trade(order: Order): TradingUsageEvent {
    trades++;
    return {
      ...base('trade', trades, now(), order.quantity),
      trading: {
        event_type: 'trade',
        exchange: order.exchange,
        symbol: order.symbol,
        side: order.side,
        order_type: order.orderType,
        live: order.live,
        value_usd: order.valueUsd ?? 0,
        data_bytes: 0,
        compute_seconds: 0,
      },
    };
  }

  function dataStream(totalFromClient: number, totalToClient: number, final: boolean): TradingUsageEvent | null {
    const fromClient = Math.max(0, totalFromClient - lastFromClient);
    const toClient = Math.max(0, totalToClient - lastToClient);
    if (!final && fromClient === 0 && toClient === 0) return null;
    const at = now();
    const seconds = Math.max(0, (at - periodStart) / 1000);
    lastFromClient = Math.max(lastFromClient, totalFromClient);
    lastToClient = Math.max(lastToClient, totalToClient);
    periodStart = at;
    streams++;
    return {
      ...base('data_stream', streams, at, fromClient + toClient),
      trading: {
        event_type: 'data_stream',
        exchange: '',
        symbol: '',
        value_usd: 0,
        data_bytes: fromClient + toClient,
        bytes_from_client: fromClient,
        bytes_to_client: toClient,
        compute_seconds: seconds,
      },
    };
  }

  return { trade, dataStream };
}
