/**
 * The worker's auth event consumer: the Redis Stream (src/observe/auth-events.ts)
 * into the `auth_events` table, through the consumer group `argus-worker`.
 *
 * Each read takes up to 500 entries (blocking up to a second), writes them with
 * one idempotent INSERT and acknowledges them after it committed: a worker killed
 * in between leaves them pending, and another worker (or this one, restarted)
 * claims them once they have been idle a minute (XAUTOCLAIM), so every entry the
 * stream still holds reaches the table at least once and is stored once. A failed
 * INSERT leaves the batch pending and is retried from the pending list. With
 * tracing on, each batch is a span linked to the request spans of its events.
 */
import { hostname } from 'node:os';
import type { Link } from '@opentelemetry/api';
import { Counter } from 'prom-client';
import type { Config } from '../config.js';
import type { Pool } from '../clients/postgres.js';
import { closeRedis, createBullRedis, type Redis } from '../clients/redis.js';
import { authEventStreamKey, type AuthEvent } from '../observe/auth-events.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { Tracing } from '../observe/tracing-loader.js';
import { ensureMonthPartition, insertAuthEvents, isAuthEvent } from './auth-events-store.js';

export const AUTH_EVENTS_GROUP = 'argus-worker';
const BATCH = 500;
const CLAIM_IDLE_MS = 60_000;
const CLAIM_EVERY_MS = 30_000;

export interface AuthEventsConsumer {
  /** Stop after the batch in progress; idempotent. */
  close(): Promise<void>;
}

type Entry = [id: string, fields: string[]];

export function startAuthEventsConsumer(
  cfg: Readonly<Config>,
  deps: { pool: Pool; metrics: Metrics; log: Logger; tracing?: Tracing | undefined; now?: () => number },
): AuthEventsConsumer {
  if (!cfg.redis) throw new Error('auth events consumer: redis is required');
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ component: 'auth-events' });
  const key = authEventStreamKey(cfg.redis.key_prefix, cfg.observability.auth_events.stream);
  const consumer = `${hostname()}-${process.pid}`;
  const written = new Counter({
    name: 'argus_auth_events_written_total',
    help: 'Auth events written to the auth_events table',
    registers: [deps.metrics.registry],
  });
  const redis: Redis = createBullRedis(cfg.redis);
  redis.on('error', () => undefined);
  const months = new Set<string>();
  let stopping = false;
  let lastClaim = 0;
  let retryPending = true;

  async function ensurePartitions(events: readonly AuthEvent[]): Promise<void> {
    for (const e of events) {
      const d = new Date(e.at);
      const month = `${d.getUTCFullYear()}-${d.getUTCMonth()}`;
      if (months.has(month)) continue;
      await ensureMonthPartition(deps.pool, e.at).catch((err: unknown) =>
        log.warn('auth events: could not create a month partition (rows go to the default one)', { err: err as Error }),
      );
      months.add(month);
    }
  }

  async function store(entries: readonly Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const events: AuthEvent[] = [];
    for (const [, fields] of entries) {
      const raw = fields[fields.indexOf('e') + 1];
      let parsed: unknown;
      try {
        parsed = raw === undefined ? undefined : JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (isAuthEvent(parsed)) events.push(parsed);
    }
    if (events.length < entries.length) log.error('auth events: skipped malformed entries', { skipped: entries.length - events.length });
    const span = deps.tracing?.tracer.startSpan('auth_events batch', { attributes: { 'argus.events': events.length }, links: linksOf(events) });
    try {
      await ensurePartitions(events);
      const n = await insertAuthEvents(deps.pool, events);
      written.inc(n);
      await redis.xack(key, AUTH_EVENTS_GROUP, ...entries.map(([id]) => id));
    } finally {
      span?.end();
    }
  }

  async function createGroup(): Promise<void> {
    try {
      // From the stream's start: events published before the first worker ran are kept too.
      await redis.xgroup('CREATE', key, AUTH_EVENTS_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  async function readOnce(): Promise<void> {
    if (now() - lastClaim > CLAIM_EVERY_MS) {
      lastClaim = now();
      const claimed = (await redis.xautoclaim(key, AUTH_EVENTS_GROUP, consumer, CLAIM_IDLE_MS, '0', 'COUNT', BATCH)) as [string, Entry[]];
      await store(claimed[1].filter((e) => e[1] !== null));
    }
    // After a failure, this consumer's own pending entries first ("0"), then new ones (">").
    const from = retryPending ? '0' : '>';
    const reply = (await redis.xreadgroup('GROUP', AUTH_EVENTS_GROUP, consumer, 'COUNT', BATCH, 'BLOCK', 1000, 'STREAMS', key, from)) as Array<
      [string, Entry[]]
    > | null;
    const entries = reply?.[0]?.[1] ?? [];
    await store(entries);
    if (retryPending && entries.length === 0) retryPending = false;
  }

  const loop = (async () => {
    while (!stopping) {
      try {
        await createGroup();
        break;
      } catch (err) {
        log.warn('auth events: cannot create the consumer group yet', { err: err as Error });
        await pause(1000);
      }
    }
    while (!stopping) {
      try {
        await readOnce();
      } catch (err) {
        retryPending = true;
        log.warn('auth events: batch failed, will retry', { err: err as Error });
        if (String((err as Error).message).includes('NOGROUP')) await createGroup().catch(() => undefined);
        await pause(1000);
      }
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        stopping = true;
        await loop;
        await closeRedis(redis);
      })();
      return closing;
    },
  };
}

/** Links from a batch span to the request spans that produced its events (ids only; the spans may not have been sampled). */
function linksOf(events: readonly AuthEvent[]): Link[] {
  const links: Link[] = [];
  for (const e of events) {
    if (links.length === 128) break;
    if (e.trace_id && e.span_id) links.push({ context: { traceId: e.trace_id, spanId: e.span_id, traceFlags: 0 } });
  }
  return links;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
