/**
 * The trading gate of one WebSocket session: every client message goes through
 * `fromClient`, every upstream message through `fromUpstream`.
 *
 * Orders are parsed, checked against the caller's entitlements and reserved in
 * the daily ledger (Redis) before they are forwarded; a refused order gets an
 * error frame and the session stays open. Messages keep their order: while an
 * order waits for Redis, later client messages wait behind it (a cancel never
 * overtakes the order it cancels), up to `max_pending_messages`.
 *
 * Upstream position reports feed realized P&L into the ledger; accepted orders
 * and the session's bytes become usage events.
 */
import { deny, type Denial } from '../errors.js';
import './errors.js';
import type { AuthContext } from '../request/principal.js';
import type { Logger } from '../observe/log.js';
import type { TradingConfig } from './schema.js';
import type { DailyLimits, TradingLedger } from './daily.js';
import { parseOrder, type Order } from './orders.js';
import { parseReport } from './reports.js';
import { checkOrder, errorFrame } from './entitlements.js';
import { createTradingMeter, type TradingUsageEvent } from './events.js';
import { tradingNarrowed } from './narrowed.js';

export interface TradingSessionOptions {
  readonly config: TradingConfig;
  readonly ledger: TradingLedger;
  readonly ctx: AuthContext;
  readonly requestId: string;
  /** config metering.service. */
  readonly service: string;
  /** The route's configured path. */
  readonly route: string;
  /** Clock in ms. Default Date.now. */
  readonly now?: () => number;
  /** Send a client message on to the upstream. Called in arrival order. */
  forward(data: Buffer, isBinary: boolean): void;
  /** Send a text frame to the client (a refused message's error frame). */
  reply(frame: string): void;
  /** Hand a usage event to metering (never awaited). */
  emit(event: TradingUsageEvent): void;
  readonly log?: Logger;
}

export interface TradingSession {
  /**
   * A client message (the caller's own copy). False when `max_pending_messages`
   * are already waiting behind an order: the caller should close the session 1013.
   */
  fromClient(data: Buffer, isBinary: boolean): boolean;
  /** An upstream message on its way to the client: counted, and P&L reports recorded. Never blocks it. */
  fromUpstream(data: Uint8Array, isBinary: boolean): void;
  /** Emit a data_stream event now if bytes moved (also runs every `data_stream_interval_ms`). */
  flushUsage(): void;
  /** The session ended: drop waiting messages, emit the final data_stream event. Idempotent. */
  close(): void;
  /** Resolves once no client message is waiting or being checked (drain, tests). Never rejects. */
  idle(): Promise<void>;
  /** Client messages waiting behind an order. */
  readonly pending: number;
  /**
   * The caller's record changed (heartbeat re-check): why this session must end so
   * the client reconnects under narrower trading entitlements, or null to go on.
   */
  reconnectFor(next: AuthContext): string | null;
}

/** The caller's daily limits: its entitlement's, else the config's defaults. */
export function dailyLimits(ctx: AuthContext, cfg: TradingConfig): DailyLimits {
  const maxValue = ctx.trading?.max_daily_value_usd ?? cfg.limits.max_daily_value_usd;
  const maxLoss = ctx.trading?.daily_loss_limit_usd ?? cfg.limits.daily_loss_limit_usd;
  return { ...(maxValue !== undefined && { maxDailyValueUsd: maxValue }), ...(maxLoss !== undefined && { dailyLossLimitUsd: maxLoss }) };
}

type Verdict = { forward: true; order?: Order; release?: () => Promise<void> } | { forward: false; denial: Denial; clientOrderId?: string };

export function createTradingSession(opts: TradingSessionOptions): TradingSession {
  const { config: cfg, ledger, ctx, requestId } = opts;
  const meter = createTradingMeter({ requestId, ctx, service: opts.service, route: opts.route, ...(opts.now && { now: opts.now }) });
  const limits = dailyLimits(ctx, cfg);
  const queue: Array<{ data: Buffer; isBinary: boolean }> = [];
  let pumping = false;
  /** The chain of the order being checked, while one is. */
  let waiting: Promise<void> | undefined;
  let closed = false;
  let bytesFromClient = 0;
  let bytesToClient = 0;
  const timer = setInterval(flushUsage, cfg.data_stream_interval_ms);
  timer.unref?.();

  function fromClient(data: Buffer, isBinary: boolean): boolean {
    if (closed) return true;
    bytesFromClient += data.byteLength;
    if (queue.length >= cfg.max_pending_messages) return false;
    queue.push({ data, isBinary });
    if (!pumping) pump();
    return true;
  }

  /** Judge queued messages in order; stops at an order waiting for Redis and resumes when it is decided. */
  function pump(): void {
    pumping = true;
    while (queue.length > 0 && !closed) {
      const item = queue[0]!;
      const verdict = judge(item.data, item.isBinary);
      if (verdict instanceof Promise) {
        waiting = verdict
          .then(
            (v) => settle(item, v),
            (err) => settle(item, failed(err)),
          )
          .catch((err) => opts.log?.error('trading: relaying a checked message failed', { err: err as Error, request_id: requestId }))
          .finally(pump);
        return;
      }
      try {
        void settle(item, verdict);
      } catch (err) {
        // The caller's forward/reply threw (a bug, e.g. a send on a closed socket): keep the queue moving.
        opts.log?.error('trading: relaying a checked message failed', { err: err as Error, request_id: requestId });
      }
    }
    pumping = false;
    waiting = undefined;
  }

  function settle(item: { data: Buffer; isBinary: boolean }, v: Verdict): Promise<void> | undefined {
    if (queue[0] === item) queue.shift();
    if (closed) {
      if (v.forward && v.release) return v.release(); // reserved, never sent: give the value back
      return undefined;
    }
    if (!v.forward) {
      opts.reply(errorFrame(v.denial, requestId, v.clientOrderId));
      return;
    }
    opts.forward(item.data, item.isBinary);
    if (v.order) opts.emit(meter.trade(v.order));
  }

  function judge(data: Buffer, isBinary: boolean): Verdict | Promise<Verdict> {
    if (isBinary && cfg.binary === 'forward') return { forward: true };
    if (isBinary && cfg.binary === 'reject')
      return { forward: false, denial: deny('ARGUS_TRADING_ORDER_INVALID', 'binary messages are not accepted on this route') };
    const parsed = parseOrder(data, cfg);
    if (parsed.kind === 'other') return { forward: true };
    if (parsed.kind === 'invalid') {
      const denial = deny('ARGUS_TRADING_ORDER_INVALID', `message not forwarded: ${parsed.reason}`);
      return parsed.clientOrderId === undefined ? { forward: false, denial } : { forward: false, denial, clientOrderId: parsed.clientOrderId };
    }
    const order = parsed.order;
    const refuse = (denial: Denial): Verdict =>
      order.clientOrderId === undefined ? { forward: false, denial } : { forward: false, denial, clientOrderId: order.clientOrderId };
    const denial = checkOrder(order, ctx.trading);
    if (denial) return refuse(denial);
    return ledger.reserveOrder(ctx.user_id, order.valueUsd, limits).then((r) => (r.ok ? { forward: true, order, release: r.release } : refuse(r.denial)));
  }

  function failed(err: unknown): Verdict {
    // A bug, not an expected outcome: refuse the message rather than forward it unchecked.
    opts.log?.error('trading: order check failed', { err: err as Error, request_id: requestId });
    return { forward: false, denial: deny('ARGUS_INTERNAL', 'the order could not be checked; it was not sent') };
  }

  function fromUpstream(data: Uint8Array, isBinary: boolean): void {
    if (closed) return;
    bytesToClient += data.byteLength;
    if (isBinary && cfg.binary !== 'inspect') return;
    const report = parseReport(data, cfg);
    if (report === null) return;
    void ledger.recordPnl(ctx.user_id, report.realizedPnlUsd, report.id).then((ok) => {
      if (!ok && report.id === undefined)
        opts.log?.warn('trading: P&L report not recorded (redis unavailable)', { request_id: requestId, user_id: ctx.user_id });
    });
  }

  function flushUsage(): void {
    if (closed) return;
    const ev = meter.dataStream(bytesFromClient, bytesToClient, false);
    if (ev) opts.emit(ev);
  }

  function close(): void {
    if (closed) return;
    clearInterval(timer);
    const ev = meter.dataStream(bytesFromClient, bytesToClient, true);
    closed = true;
    queue.length = 0;
    if (ev) opts.emit(ev);
  }

  return {
    fromClient,
    fromUpstream,
    flushUsage,
    close,
    async idle() {
      while (waiting) await waiting;
    },
    get pending() {
      return queue.length;
    },
    reconnectFor: (next) => tradingNarrowed(ctx.trading, next.trading),
  };
}
