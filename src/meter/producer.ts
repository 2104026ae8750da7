/**
 * The usage producer in the proxy: never on the response's critical path, never
 * losing an event.
 *
 * `record` appends to an in-memory buffer; a batch leaves every
 * `flush_interval_ms` or as soon as it holds `batch_max_events`. Batches go to
 * BullMQ (one job per batch, id derived from its first event) while Redis is up
 * and answers within `queue_timeout_ms`; otherwise, and for as long as anything
 * is spooled (so order is kept), to the append-only spool, fsync'd per batch.
 * The spool is replayed oldest first when Redis answers again. Events are
 * dropped only when the disk refuses the spool write (metric + error log).
 *
 * Memory is bounded by `max_buffer_events` (buffered + being delivered): past it,
 * `record` writes the buffer to the spool synchronously, trading a little latency
 * under overload for never losing an event.
 */
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { Config } from '../config.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import { batchJobId, type UsageEvent } from './events.js';
import { meterMetrics } from './metrics.js';
import { createUsageQueue, type UsageQueue } from './queue.js';
import { openSpool, type SpoolBatch } from './spool.js';

export interface Meter {
  /** Never throws, never blocks the response: appends to a bounded in-memory batch. */
  record(ev: UsageEvent): void;
  /** Flush now (to BullMQ, or the spool when Redis is unreachable/slow). Resolves when everything recorded so far is queued or spooled. */
  flush(): Promise<void>;
  /** False once closed, or while the disk refuses spool writes. */
  readonly ready: () => boolean;
  /** Idempotent; flushes the buffer to the queue or the spool (SIGTERM path), then closes Redis and the spool. */
  close(): Promise<void>;
}

/** The spool directory of this thread: `<metering.spool_dir>/t<threadId>` (one owner per directory). */
export function spoolDirFor(cfg: Readonly<Config>, thread: number = threadId): string {
  return join(cfg.metering.spool_dir, `t${thread}`);
}

/**
 * Create the producer. `cfg.redis` absent → standalone: every batch goes to the
 * spool (a later process with Redis replays it). `metering.enabled: false` → a
 * meter that records nothing.
 */
export function createMeter(cfg: Readonly<Config>, deps: { metrics: Metrics; log: Logger; now?: () => number }): Meter {
  const m = cfg.metering;
  if (!m.enabled) return disabledMeter();
  const log = deps.log.child({ component: 'meter' });
  const mm = meterMetrics(deps.metrics);
  const spool = openSpool(spoolDirFor(cfg), { fileBytes: m.spool_file_bytes, log });
  const queue: UsageQueue | null = cfg.redis ? createUsageQueue(cfg, cfg.redis.url, () => void tryReplay()) : null;
  let buffer: UsageEvent[] = [];
  let delivering = 0;
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<void> = Promise.resolve();
  let replaying: Promise<void> | null = null;
  let degraded = false;
  let diskFull = false;
  let closed = false;
  let closing: Promise<void> | null = null;
  const replayTimer = queue ? setInterval(() => void tryReplay(), m.replay_interval_ms) : null;
  replayTimer?.unref();
  const gauges = () => {
    mm.bufferEvents.set(buffer.length + delivering);
    mm.spoolBytes.set(spool.bytes());
  };
  gauges();

  function takeBatches(): SpoolBatch[] {
    const out: SpoolBatch[] = [];
    while (buffer.length > 0) {
      const events = buffer.length <= m.batch_max_events ? buffer : buffer.slice(0, m.batch_max_events);
      buffer = buffer.length <= m.batch_max_events ? [] : buffer.slice(m.batch_max_events);
      out.push({ id: batchJobId(events), events });
    }
    return out;
  }

  function record(ev: UsageEvent): void {
    if (closed) return spillSync([ev]);
    buffer.push(ev);
    if (buffer.length + delivering >= m.max_buffer_events) {
      spillSync(buffer);
      buffer = [];
    } else if (buffer.length >= m.batch_max_events) {
      void flush();
    } else if (!timer) {
      timer = setTimeout(() => void flush(), m.flush_interval_ms);
    }
    mm.bufferEvents.set(buffer.length + delivering);
  }

  /** Overflow or after close: straight to disk, synchronously. */
  function spillSync(events: UsageEvent[]): void {
    for (let i = 0; i < events.length; i += m.batch_max_events) {
      const part = events.slice(i, i + m.batch_max_events);
      try {
        spool.appendSync({ id: batchJobId(part), events: part });
        mm.events.inc({ outcome: 'spooled' }, part.length);
      } catch (err) {
        dropped(part.length, err);
      }
    }
    gauges();
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    const batches = takeBatches();
    if (batches.length === 0) return chain;
    const n = batches.reduce((s, b) => s + b.events.length, 0);
    delivering += n;
    chain = chain.then(() => deliver(batches)).catch((err: unknown) => log.error('meter: delivery failed', { err })).finally(() => {
      delivering -= n;
      gauges();
    });
    return chain;
  }

  async function deliver(batches: SpoolBatch[]): Promise<void> {
    if (queue && !spool.pending() && queue.connected()) {
      try {
        await queue.add(batches);
        for (const b of batches) mm.events.inc({ outcome: 'queued' }, b.events.length);
        return;
      } catch (err) {
        if (!degraded) log.warn('meter: queue unavailable, spooling usage events', { err });
        degraded = true;
      }
    } else if (queue && !degraded && !spool.pending()) {
      log.warn('meter: redis not connected, spooling usage events');
      degraded = true;
    }
    for (const b of batches) {
      try {
        await spool.append(b);
        diskFull = false;
        mm.events.inc({ outcome: 'spooled' }, b.events.length);
      } catch (err) {
        dropped(b.events.length, err);
      }
    }
  }

  function dropped(n: number, err: unknown): void {
    diskFull = true;
    mm.events.inc({ outcome: 'dropped' }, n);
    log.error('meter: USAGE EVENTS DROPPED: spool write failed', { err, events: n, spool_dir: spoolDirFor(cfg) });
  }

  function tryReplay(): Promise<void> {
    if (!queue || replaying || closed || !spool.pending() || !queue.connected()) return replaying ?? Promise.resolve();
    replaying = spool
      .replay(async (b) => {
        if (closed) throw new Error('meter closing');
        await queue.add([b]);
        mm.events.inc({ outcome: 'replayed' }, b.events.length);
        gauges();
      })
      .then((n) => {
        if (n > 0) log.info('meter: spool replayed to the queue', { batches: n });
        if (!spool.pending()) degraded = false;
      })
      .catch((err: unknown) => {
        if (!closed) log.warn('meter: spool replay paused', { err });
      })
      .finally(() => {
        replaying = null;
        gauges();
      });
    return replaying;
  }

  return {
    record,
    flush,
    ready: () => !closed && !diskFull,
    close() {
      closing ??= (async () => {
        closed = true;
        if (replayTimer) clearInterval(replayTimer);
        await flush();
        await replaying;
        await chain;
        await queue?.close();
        await spool.close();
        gauges();
      })();
      return closing;
    },
  };
}

function disabledMeter(): Meter {
  return { record: () => undefined, flush: async () => undefined, ready: () => true, close: async () => undefined };
}
