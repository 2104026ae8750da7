/**
 * The auth event stream: who was refused, revoked, re-tiered or cut off, when,
 * where and why (docs/observability.md, "Auth events"). Producers publish to a
 * Redis Stream capped with `XADD … MAXLEN ~ max_len`; the billing worker reads it
 * with a consumer group into the `auth_events` table (src/billing/auth-events-consumer.ts).
 *
 * Why a stream and not the usage queue: refusals are attacker-driven (a 401 flood
 * is the normal case of an attack) and worth nothing to billing. The usage
 * pipeline is crash-safe and exactly-once on purpose (spool, per-batch jobs,
 * acknowledgements), so every refusal would cost a spool write and a share of a
 * BullMQ job; an audit trail may lose events under overload as long as it says so.
 * A capped stream keeps Redis memory bounded whatever the rate, and its consumer
 * group gives the worker at-least-once delivery while it keeps up.
 *
 * On the hot path an event is one array push. Events are written once per
 * event-loop turn, in one pipeline; at most `buffer` wait, and what does not fit,
 * or finds Redis down, is dropped and counted (`argus_auth_events_total{outcome}`).
 */
import type { Redis } from '../clients/redis.js';
import { cellCounter, type Cell } from './cells.js';
import type { Metrics } from './metrics.js';
import { completeEvent, eventIds, type AuthEvent, type AuthEventInput } from './auth-event.js';

export { authEventStreamKey, SIDECAR_ID, type AuthEvent, type AuthEventInput, type AuthEventKind } from './auth-event.js';

export interface AuthEventSink {
  /** Queue an event for this turn's write; never blocks, never throws. */
  emit(e: AuthEventInput): void;
  /** Write what is queued now, then stop. Idempotent. */
  close(): Promise<void>;
}

export interface RedisSinkOptions {
  readonly redis: Redis;
  readonly key: string;
  readonly maxLen: number;
  readonly buffer: number;
  readonly metrics: Metrics;
  readonly now?: () => number;
}

function outcomes(metrics: Metrics): (outcome: string) => Cell {
  return cellCounter(metrics.registry, {
    name: 'argus_auth_events_total',
    help: 'Auth events by outcome: published, dropped_full (the buffer was full), dropped_unavailable (Redis down or the write failed)',
    labelNames: ['outcome'],
  });
}

/** Events to a Redis Stream, one pipeline per event-loop turn. */
export function createRedisAuthEvents(o: RedisSinkOptions): AuthEventSink {
  const now = o.now ?? Date.now;
  const nextId = eventIds();
  const count = outcomes(o.metrics);
  const published = count('published');
  const full = count('dropped_full');
  const unavailable = count('dropped_unavailable');
  let queued: AuthEvent[] = [];
  let scheduled = false;
  let writing: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  function write(): Promise<void> {
    scheduled = false;
    const batch = queued;
    queued = [];
    if (batch.length === 0) return Promise.resolve();
    if (o.redis.status !== 'ready') {
      unavailable.n += batch.length;
      return Promise.resolve();
    }
    const pipe = o.redis.pipeline();
    for (const e of batch) pipe.xadd(o.key, 'MAXLEN', '~', o.maxLen, '*', 'e', JSON.stringify(e));
    const done = pipe.exec().then(
      (replies) => {
        let failed = 0;
        for (const [err] of replies ?? []) if (err) failed++;
        published.n += batch.length - failed;
        unavailable.n += failed;
      },
      () => {
        unavailable.n += batch.length;
      },
    );
    writing = done;
    return done;
  }

  return {
    emit(input) {
      if (closed) return;
      if (queued.length >= o.buffer) {
        full.n++;
        return;
      }
      queued.push(completeEvent(input, nextId(), now()));
      if (!scheduled) {
        scheduled = true;
        setImmediate(write);
      }
    },
    close() {
      closed ??= (async () => {
        await writing;
        await write();
      })();
      return closed;
    },
  };
}

/**
 * Standalone sidecars (no Redis): the last `buffer` events kept in memory, for
 * `recent()` (the same events a Redis-backed sidecar would publish).
 */
export function createMemoryAuthEvents(o: { buffer: number; metrics: Metrics; now?: () => number }): AuthEventSink & { recent(): readonly AuthEvent[] } {
  const now = o.now ?? Date.now;
  const nextId = eventIds();
  const published = outcomes(o.metrics)('published');
  const ring: AuthEvent[] = [];
  return {
    emit(input) {
      if (ring.length >= o.buffer) ring.shift();
      ring.push(completeEvent(input, nextId(), now()));
      published.n++;
    },
    recent: () => ring.slice(),
    close: () => Promise.resolve(),
  };
}
