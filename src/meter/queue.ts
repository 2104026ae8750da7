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
 * JSON text or as that text's UTF-8 bytes (format 2, from the spool's
 * serialisation: see BatchEncoder.jsonBytes in ./wire.ts), or its events to encode here.
 */
export type QueuedBatch = { readonly id: string; readonly data: BatchJobData } | { readonly id: string; readonly json: string | Buffer } | SpoolBatch;

/**
 * Job data already serialised: stored as it is (BullMQ would JSON.stringify the data
 * a second time). Bytes go to Redis as they are (ioredis writes a Buffer argument
 * without a string on the V8 heap); the job hash holds the same text either way.
 */
class RawJson {
  constructor(readonly text: string | Buffer) {}
  /** What Job.asJSON's JSON.stringify sees (cheap); {@link RawJob} puts the text in its place. */
  toJSON(): null {
    return null;
  }
}

class RawJob extends Job {
  override asJSON(): ReturnType<Job['asJSON']> {
    const out = super.asJSON();
    if (this.data instanceof RawJson) out.data = this.data.text as string; // a Buffer is passed through to ioredis as it is
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
   * Where each job id stands, in one Redis call (JOB_STATES_LUA): 'completed',
   * 'pending' (Redis holds it: waiting, active, delayed or failed) or 'unknown'
   * (Redis does not have it). Rejects on Redis errors and after `queue_timeout_ms`.
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

/**
 * The acknowledgement poll (src/meter/producer.ts): for each job id, `completed`
 * (in the queue's completed set: the billing worker committed it), `pending`
 * (Redis still holds the job: waiting, active, delayed or failed, ask again later)
 * or `unknown` (Redis lost it: restarted empty, failed over, or the completed job
 * aged out; the producer sends it again from the spool).
 *
 * One call for the whole round. BullMQ's getJobState is a script per id that
 * walks the wait and active lists with LPOS: with 2,000 batches waiting on a
 * stopped billing worker, that was 2,000 calls per second from every sidecar,
 * each O(backlog) inside Redis, and the sidecar's own tail grew with it
 * (p99 2.1-2.3 ms against 0.6-0.7 ms without metering, at 4,500/s, no worker).
 * Here each id costs one ZSCORE and one EXISTS.
 */
export const JOB_STATES_LUA = `
local out = {}
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    out[i] = 'completed'
  elseif redis.call('EXISTS', KEYS[i + 1]) == 1 then
    out[i] = 'pending'
  else
    out[i] = 'unknown'
  end
end
return out
`;

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
    if (ids.length === 0) return [];
    // One script call for every id (KEYS: the completed set, then each job's hash; one slot
    // under the cluster prefix), not one BullMQ getJobState per id: see JOB_STATES_LUA.
    const keys = [queue.toKey('completed'), ...ids.map((id) => queue.toKey(id))];
    return (await connection.eval(JOB_STATES_LUA, keys.length, ...keys, ...ids)) as string[];
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
