/**
 * The pipeline's metering step: after a response, build its usage events
 * (`request`, plus whatever the upstream reported in `x-argus-usage`) and hand
 * them to the producer, which batches them off the response path. Extensions add
 * their own events through `usage` (src/extensions/contract.ts). Event ids derive from a sidecar-chosen key per request, never from a
 * client's `x-request-id` (a reused one would collapse billed events).
 */
import type { AuthContext } from '../request/principal.js';
import type { MeteringConfig } from './schema.js';
import type { UsageBase, UsageSink } from '../extensions/contract.js';
import type { Logger } from '../observe/log.js';
import type { MeterStage } from '../request/stages.js';
import type { Exchange } from '../request/exchange.js';
import { buildUsageEvents, plainRequestEvent } from './build.js';
import { sidecarEventId } from './events.js';
import type { Meter } from './producer.js';

export interface MeterSinks {
  readonly request: MeterStage;
  /** A streamed response's start record: its request events as they stand (superseded by `request`). */
  readonly requestCheckpoint: MeterStage;
  /** Where extensions' events go (src/extensions/contract.ts). */
  readonly usage: UsageSink;
}

export function createMeterSinks(meter: Meter, metering: Readonly<Pick<MeteringConfig, 'service'>>, log: Logger, now: () => number): MeterSinks {
  const service = metering.service;
  const base = (ex: Exchange, ctx: AuthContext | null): UsageBase => ({
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
        const key = ex.eventKey();
        const ev = plainRequestEvent(
          sidecarEventId(key, 'request'),
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
        // Without a client x-request-id the request id is the event key: the id is `ev_<request id>.request`.
        else meter.record(ev, key === ex.head.requestId);
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

    usage: {
      base,
      record(ev, checkpoint) {
        if (checkpoint) meter.checkpoint(ev);
        else meter.record(ev);
      },
    },
  };
}
