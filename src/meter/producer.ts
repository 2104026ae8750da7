/**
 * The usage producer in the proxy: never on the response's critical path, never
 * losing an event.
 *
 * `record` appends to the buffered batch's job data, encoded event by event
 * (`BatchEncoder`), so a flush only hands BullMQ finished data instead of
 * stalling the request thread to encode it, and the buffer holds rows, not event
 * objects (the spool gets the events back from the rows); a batch leaves every
 * `flush_interval_ms` or as soon as it holds `batch_max_events`. Batches go to
 * BullMQ (one job per batch, id derived from its first event) while Redis is up
 * and answers within `queue_timeout_ms`; otherwise, and for as long as anything
 * is spooled (so order is kept), to the append-only spool, fsync'd per batch.
 * The spool is replayed oldest first when Redis answers again. Events are
 * dropped only when the disk refuses the spool write (metric + error log).
 *
 * Memory is bounded by `max_buffer_events` (buffered + waiting + being
 * delivered): past it, `record` writes everything not already being delivered
 * to the spool synchronously, oldest first, trading a little latency under
 * overload for never losing an event. (The one group being delivered at that
 * moment may land in the spool after the overflow file: order is kept except for it.)
 */
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { Config } from '../config.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import { batchIdFor, type UsageEvent } from './events.js';
import { meterMetrics } from './metrics.js';
import { createUsageQueue, type BatchJobData, type UsageQueue } from './queue.js';
import { openSpool, type SpoolBatch } from './spool.js';
import { BatchEncoder } from './wire.js';

/** Events per addBulk call at most (see pump). */
const MAX_EVENTS_PER_ADD = 1000;

/** A batch cut from the buffer: its job id, size and job data; its events are rebuilt from the data only for the spool. */
interface Cut {
  readonly id: string;
  readonly size: number;
  readonly data: BatchJobData;
  readonly events: () => UsageEvent[];
}

function cutOf(enc: BatchEncoder): Cut {
  return { id: batchIdFor(enc.firstEventId), size: enc.size, data: enc.data(), events: () => enc.events() };
}

const toSpool = (b: Cut): SpoolBatch => ({ id: b.id, events: b.events() });
const sizeOf = (batches: readonly Cut[]): number => batches.reduce((n, b) => n + b.size, 0);

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
export function createMeter(cfg: Readonly<Config>, deps: { metrics: Metrics; log: Logger; /** Reserved: event times come from the caller. */ now?: () => number }): Meter {
  const m = cfg.metering;
  if (!m.enabled) return disabledMeter();
  const log = deps.log.child({ component: 'meter' });
  const mm = meterMetrics(deps.metrics);
  const spool = openSpool(spoolDirFor(cfg), { fileBytes: m.spool_file_bytes, log });
  const queue: UsageQueue | null = cfg.redis ? createUsageQueue(cfg, cfg.redis.url, () => void tryReplay()) : null;
  /** The buffered batch, encoded as recorded: format 2 with Redis (unless configured otherwise), format 1 (the events) without. */
  const newBuffer = () => new BatchEncoder(queue ? m.job_format : 1);
  let buffer = newBuffer();
  /** Batches cut from the buffer, waiting for the pump (oldest first). */
  let pending: Cut[] = [];
  /** Events in `pending` plus those the pump is delivering now. */
  let delivering = 0;
  let timer: NodeJS.Timeout | null = null;
  let pumping: Promise<void> | null = null;
  let replaying: Promise<void> | null = null;
  let degraded = false;
  let replayWarned = false;
  let diskFull = false;
  let closed = false;
  let closing: Promise<void> | null = null;
  const replayTimer = queue ? setInterval(() => void tryReplay(), m.replay_interval_ms) : null;
  replayTimer?.unref();
  const removeBufferSource = mm.addBufferSource(() => buffer.size + delivering);
  const gauges = () => {
    mm.spoolBytes.set(spool.bytes());
  };
  gauges();
  if (!queue) log.info('meter: standalone (no redis): usage events are spooled until a process with Redis replays them', { spool_dir: spoolDirFor(cfg) });

  /** The buffer as a batch (record flushes it at batch_max_events), and a new buffer. */
  function takeBuffer(): Cut[] {
    if (buffer.size === 0) return [];
    const batch = cutOf(buffer);
    buffer = newBuffer();
    return [batch];
  }

  function record(ev: UsageEvent): void {
    if (closed) {
      const alone = newBuffer();
      alone.add(ev);
      return spillSync([cutOf(alone)]);
    }
    buffer.add(ev);
    if (buffer.size + delivering >= m.max_buffer_events) {
      // Memory is full: everything not already being delivered goes to disk now, oldest first.
      const batches = [...pending, ...takeBuffer()];
      delivering -= sizeOf(pending);
      pending = [];
      spillSync(batches);
    } else if (buffer.size >= m.batch_max_events) {
      void flush();
    } else if (!timer) {
      timer = setTimeout(() => void flush(), m.flush_interval_ms);
    }
  }

  /** Overflow, or a record after close: straight to disk, synchronously. */
  function spillSync(batches: Cut[]): void {
    const n = sizeOf(batches);
    try {
      spool.appendSync(batches.map(toSpool));
      mm.events.inc({ outcome: 'spooled' }, n);
    } catch (err) {
      dropped(n, err);
    }
    gauges();
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    const batches = takeBuffer();
    pending.push(...batches);
    delivering += sizeOf(batches);
    pumping ??= pump().finally(() => {
      pumping = null;
    });
    return pumping;
  }

  /**
   * One delivery at a time, oldest batches first. An addBulk serialises its jobs on
   * the event loop (~2 µs per event), so one call carries at most
   * MAX_EVENTS_PER_ADD events (at least one batch): a backlog drains as several
   * short calls, with requests served in between, not as one long stall.
   */
  async function pump(): Promise<void> {
    while (pending.length > 0) {
      let take = 1;
      let events = pending[0]!.size;
      while (take < pending.length && take < 16 && events + pending[take]!.size <= MAX_EVENTS_PER_ADD) events += pending[take++]!.size;
      const batches = pending.splice(0, take);
      try {
        await deliver(batches);
      } catch (err) {
        log.error('meter: delivery failed', { err });
      } finally {
        delivering -= sizeOf(batches);
        gauges();
      }
    }
  }

  async function deliver(batches: Cut[]): Promise<void> {
    if (queue && !spool.pending() && queue.connected()) {
      try {
        await queue.add(batches);
        mm.events.inc({ outcome: 'queued' }, sizeOf(batches));
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
        await spool.append(toSpool(b));
        diskFull = false;
        mm.events.inc({ outcome: 'spooled' }, b.size);
      } catch (err) {
        dropped(b.size, err);
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
        if (!spool.pending()) degraded = replayWarned = false;
      })
      .catch((err: unknown) => {
        // Once per outage: a slow Redis fails every replay tick.
        if (!closed && !replayWarned) log.warn('meter: spool replay paused, retrying', { err });
        replayWarned = true;
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
        await pumping;
        await queue?.close();
        await spool.close();
        gauges();
        removeBufferSource();
      })();
      return closing;
    },
  };
}

function disabledMeter(): Meter {
  return { record: () => undefined, flush: async () => undefined, ready: () => true, close: async () => undefined };
}
