/**
 * The pipeline's metering step: after a response, build its usage events
 * (`request`, plus whatever the upstream reported in `x-argus-usage`) and hand
 * them to the producer, which batches them off the response path. LLM routes add
 * one `llm` event when the upstream is done; trading sessions add `trading`
 * events. Event ids derive from a sidecar-chosen key per request, never from a
 * client's `x-request-id` (a reused one would collapse billed events).
 */
import type { AuthContext } from '../authenticate/context.js';
import type { Config } from '../config.js';
import type { LlmEventFields } from '../llm/event.js';
import type { Logger } from '../observe/log.js';
import type { MeterStage } from '../pipeline.js';
import type { Exchange } from '../server/exchange.js';
import type { TradingUsageEvent as TradingSessionEvent } from '../trading/events.js';
import { buildUsageEvents, plainRequestEvent } from './build.js';
import { eventId, sidecarEventId, type LlmUsageEvent, type TradingUsageEvent } from './events.js';
import type { Meter } from './producer.js';

export interface MeterSinks {
  readonly request: MeterStage;
  /** A streamed response's start record: its request events as they stand (superseded by `request`). */
  readonly requestCheckpoint: MeterStage;
  /** `checkpoint`: the usage so far of a response still streaming (superseded by the final call). */
  readonly llm: (ex: Exchange, ctx: AuthContext | null, event: LlmEventFields, checkpoint?: boolean) => void;
  readonly trading: (event: TradingSessionEvent, ctx: AuthContext | null, requestId: string) => void;
}

export function createMeterSinks(meter: Meter, cfg: Readonly<Config>, log: Logger, now: () => number): MeterSinks {
  const service = cfg.metering.service;
  const base = (ex: Exchange, ctx: AuthContext | null) => ({
    user_id: ctx && ctx.method !== 'none' ? ctx.user_id : null,
    key_id: ctx?.key_id ?? null,
    stripe_customer: ctx?.stripe_customer ?? null,
    service,
    route: ex.routeLabel,
    request_id: ex.head.requestId,
  });

  const requestSink =
    (checkpoint: boolean): MeterStage =>
    (ex, route, ctx) => {
      // Unmetered routes cost nothing here unless the upstream reported usage itself.
      if (!route.cfg.meter && ex.reportedUsage === undefined) return;
      const latencyMs = now() - ex.startedAt;
      if (ex.reportedUsage === undefined) {
        // Nearly every metered response: its one request event, without buildUsageEvents' facts and result objects.
        const ev = plainRequestEvent(
          sidecarEventId(ex.eventKey(), 'request'),
          ctx,
          service,
          route.label,
          ex.head.requestId,
          Math.round(Date.now() - latencyMs),
          ex.head.method,
          ex.aborted && !ex.started ? 499 : ex.status,
          ex.body?.received ?? 0,
          ex.bytesOut,
          latencyMs,
        );
        if (checkpoint) meter.checkpoint(ev);
        else meter.record(ev);
        return;
      }
      const { events, headerError } = buildUsageEvents({
        requestId: ex.head.requestId,
        eventKey: ex.eventKey(),
        route: { path: route.label, meter: route.cfg.meter },
        service,
        auth: ctx ?? undefined,
        method: ex.head.method,
        status: ex.aborted && !ex.started ? 499 : ex.status,
        bytesIn: ex.body?.received ?? 0,
        bytesOut: ex.bytesOut,
        latencyMs,
        occurredAt: Math.round(Date.now() - latencyMs),
        usageHeader: ex.reportedUsage,
      });
      if (headerError && !checkpoint)
        log.warn('upstream sent an invalid x-argus-usage header; ignored', { route: route.label, reason: headerError, request_id: ex.head.requestId });
      if (checkpoint) for (const ev of events) meter.checkpoint(ev);
      else for (const ev of events) meter.record(ev);
    };

  return {
    request: requestSink(false),
    requestCheckpoint: requestSink(true),

    llm(ex, ctx, e, checkpoint) {
      const ev: LlmUsageEvent = {
        ...base(ex, ctx),
        event_id: sidecarEventId(ex.eventKey(), 'llm'),
        kind: 'llm',
        occurred_at: Math.round(Date.now() - e.latency_ms),
        quantity: e.input_tokens + e.output_tokens,
        provider: e.provider,
        model: e.model,
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        latency_ms: e.latency_ms,
        cost_usd: e.cost_usd,
        ...(e.cached_input_tokens !== undefined ? { cached_input_tokens: e.cached_input_tokens } : {}),
        ...(e.ttft_ms !== undefined ? { ttft_ms: e.ttft_ms } : {}),
        estimated: e.estimated,
        partial: e.partial,
      };
      if (checkpoint) meter.checkpoint(ev);
      else meter.record(ev);
    },

    trading(t, ctx, requestId) {
      const ev: TradingUsageEvent = {
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
      meter.record(ev);
    },
  };
}
