/**
 * The usage queue as the producer sees it: BullMQ on a fail-fast Redis
 * connection (no offline queue), so an add while Redis is away rejects at once
 * instead of waiting, and the batch goes to the spool.
 */
import { Job, Queue, type JobsOptions } from 'bullmq';
import { createRedis, type RedisTarget } from '../clients/redis.js';
import type { MeteringSlice } from './slice.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { UsageEvent } from './events.js';
import { checkRedisConfig } from './redis-config.js';
import { encodeBatch, JOB_NAMES, type EventsJobData, type RowsJobData } from './wire.js';

/** A batch as events (tests, tools). */
export interface SpoolBatch {
  readonly id: string;
  readonly events: UsageEvent[];
}

/** What one job carries (its format is named by the job name, see ./wire.ts). */
export type BatchJobData = EventsJobData | RowsJobData;

/**
 * A batch to add: its job data already in the configured format, its job data as
 * JSON text (format 2, from the spool's serialisation: see BatchEncoder.json in
 * ./wire.ts), or its events to encode here.
 */
export type QueuedBatch = { readonly id: string; readonly data: BatchJobData } | { readonly id: string; readonly json: string } | SpoolBatch;

/** Job data already serialised: stored as it is (BullMQ would JSON.stringify the data a second time). */
class RawJson {
  constructor(readonly text: string) {}
  /** What Job.asJSON's JSON.stringify sees (cheap); {@link RawJob} puts the text in its place. */
  toJSON(): null {
    return null;
  }
}

class RawJob extends Job {
  override asJSON(): ReturnType<Job['asJSON']> {
    const out = super.asJSON();
    if (this.data instanceof RawJson) out.data = this.data.text;
    return out;
  }
}

/** A Queue whose jobs may carry {@link RawJson} data. */
class RawQueue extends Queue<unknown> {
  protected override get Job(): typeof Job {
    return RawJob as unknown as typeof Job;
  }

  /**
   * BullMQ 5.81's close removes every listener of its connection wrapper; if Redis
   * never answered, the wrapper's start-up still waits, and when the connection
   * then ends it emits 'error' with no listener: an unhandled rejection, which
   * ends a Node process. Keep one listener for that late error.
   */
  override async close(): Promise<void> {
    await super.close();
    this.connection.on('error', () => undefined);
  }
}

export interface UsageQueue {
  /** Add batches, each as its own job (id = batch id). Rejects after `timeoutMs` or on any Redis error. */
  add(batches: readonly QueuedBatch[]): Promise<void>;
  /**
   * BullMQ state of each job id ('completed', 'waiting', 'active', 'failed', …;
   * 'unknown': Redis does not have it). Rejects on Redis errors.
   */
  states(ids: readonly string[]): Promise<string[]>;
  /** The connection is up (adds may still be slow), or still making its first attempt. */
  connected(): boolean;
  close(): Promise<void>;
}

/**
 * BullMQ key prefix: the config's Redis key prefix + "bull". On a Redis Cluster
 * the prefix is a hash tag, `{argus:bull}`, as BullMQ documents for clusters: its
 * scripts touch several keys of a queue at once, and the tag keeps every key of
 * the queue in one slot (the queue lives on one master; more throughput means
 * more queues, not a wider one).
 */
export function bullPrefix(cfg: MeteringSlice): string {
  const p = `${cfg.redis?.key_prefix ?? 'argus:'}bull`;
  return cfg.redis?.cluster ? `{${p}}` : p;
}

/** Options stamped on every batch job: the worker's retry policy, and failed jobs kept for replay. */
export function jobOptions(cfg: MeteringSlice): JobsOptions {
  const m = cfg.metering;
  return {
    attempts: m.job_attempts,
    backoff: { type: 'exponential', delay: m.job_backoff_ms },
    removeOnComplete: { age: m.keep_completed_s },
    removeOnFail: false,
  };
}

export function createUsageQueue(cfg: MeteringSlice, redisUrl: RedisTarget, opts: { onReady?: () => void; log?: Logger; metrics?: Metrics } = {}): UsageQueue {
  const onReady = opts.onReady ?? (() => undefined);
  const timeoutMs = cfg.metering.queue_timeout_ms;
  const connection = createRedis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(timeoutMs, 1000),
    commandTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    lazyConnect: false,
  });
  // Errors are reported through rejected adds; an unhandled 'error' event would crash the process.
  connection.on('error', () => undefined);
  let everReady = false;
  connection.on('ready', () => {
    everReady = true;
    // At start and on every reconnect: is Redis configured so BullMQ keeps what it accepted?
    if (opts.log && opts.metrics) void checkRedisConfig(connection, opts.log, opts.metrics, 'meter');
    onReady();
  });
  const queue = new RawQueue(cfg.metering.queue, { connection, prefix: bullPrefix(cfg) });
  queue.on('error', () => undefined);
  const jobOpts = jobOptions(cfg);
  const format = cfg.metering.job_format;
  const name = JOB_NAMES[format];
  let closing: Promise<void> | null = null;

  /** At boot, give the first connection up to the add timeout instead of spooling the first batches. */
  function firstConnect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        connection.off('ready', done);
        if (connection.status === 'ready') resolve();
        else reject(new Error(`redis ${connection.status}`));
      };
      const timer = setTimeout(done, timeoutMs);
      connection.on('ready', done);
    });
  }

  async function add(batches: readonly QueuedBatch[]): Promise<void> {
    if (connection.status !== 'ready') {
      if (everReady || connection.status === 'end') throw new Error(`redis ${connection.status}`);
      await firstConnect();
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`queue add timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    // One batch (the usual flush) goes through Queue.add: addBulk builds an ioredis
    // pipeline, which copies every BullMQ script onto it (~0.2-0.4 ms of CPU per
    // call on this machine, measured; Queue.add sends the script call directly).
    const jobs = batches.map((b) => ({
      name,
      data: 'json' in b ? new RawJson(b.json) : 'data' in b ? b.data : encodeBatch(b.events, format),
      opts: { ...jobOpts, jobId: b.id },
    }));
    const job = jobs.length === 1 ? queue.add(name, jobs[0]!.data, jobs[0]!.opts) : queue.addBulk(jobs);
    job.catch(() => undefined);
    try {
      await Promise.race([job, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function states(ids: readonly string[]): Promise<string[]> {
    if (connection.status !== 'ready') throw new Error(`redis ${connection.status}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`job states timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const all = Promise.all(ids.map((id) => queue.getJobState(id)));
    all.catch(() => undefined);
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    add,
    states,
    connected: () => connection.status === 'ready' || (!everReady && connection.status !== 'end'),
    close() {
      closing ??= (async () => {
        await queue.close().catch(() => undefined);
        connection.disconnect();
      })();
      return closing;
    },
  };
}
