/**
 * The billing worker: a BullMQ Worker draining the usage queue into the ledger.
 *
 * Each job is one batch, written with one idempotent INSERT. A failed insert is
 * retried with exponential backoff (job options set by the producer); a job out
 * of attempts stays in the failed set (`removeOnFail: false`) for
 * `argus-sidecar usage replay-failed`. A worker killed mid-batch leaves its job
 * locked; once the lock expires another worker (or the restarted one) takes it
 * again, and the insert's ON CONFLICT makes the second run harmless. Any number
 * of replicas may run.
 */
import { Worker, type Job } from 'bullmq';
import type { MeteringSlice } from '../meter/slice.js';
import type { BatchJobData } from '../meter/queue.js';
import { bullPrefix } from '../meter/queue.js';
import { decodeBatch } from '../meter/wire.js';
import { checkRedisConfig } from '../meter/redis-config.js';
import { workerMetrics } from '../meter/metrics.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { Pool } from '../clients/postgres.js';
import { closeRedis, createBullRedis } from '../clients/redis.js';
import { insertEvents } from './ledger.js';

export interface BillingWorker {
  /** True once connected to Redis and taking jobs. */
  ready(): boolean;
  /** Stop taking jobs, let the running ones finish, close Redis. Idempotent. */
  close(): Promise<void>;
}

export function createBillingWorker(cfg: MeteringSlice, deps: { pool: Pool; metrics: Metrics; log: Logger; now?: () => number }): BillingWorker {
  if (!cfg.redis) throw new Error('billing worker: redis is required');
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ component: 'billing-worker' });
  const wm = workerMetrics(deps.metrics);
  const w = cfg.metering.worker;
  const connection = createBullRedis(cfg.redis);
  connection.on('error', () => undefined);
  // At start and on every reconnect: a Redis that evicts keys can drop queued jobs (see src/meter/redis-config.ts).
  connection.on('ready', () => void checkRedisConfig(connection, log, deps.metrics, 'worker'));
  let ready = false;
  let closing: Promise<void> | null = null;

  async function processBatch(job: Job<BatchJobData>): Promise<{ inserted: number }> {
    // An unreadable job throws: it fails (and stays for replay) instead of completing with nothing written.
    const events = decodeBatch(job.name, job.data);
    const res = await insertEvents(deps.pool, events);
    if (res.invalid > 0) log.error('billing worker: skipped malformed events', { job_id: job.id, invalid: res.invalid });
    wm.ledgerInserted.inc(res.inserted);
    let oldest = Infinity;
    for (const e of events as Array<{ occurred_at?: unknown } | null>) if (typeof e?.occurred_at === 'number' && e.occurred_at < oldest) oldest = e.occurred_at;
    if (Number.isFinite(oldest)) wm.lag.set({ stage: 'ledger' }, Math.max(0, (now() - oldest) / 1000));
    return { inserted: res.inserted };
  }

  const worker = new Worker<BatchJobData, { inserted: number }>(cfg.metering.queue, processBatch, {
    connection,
    prefix: bullPrefix(cfg),
    concurrency: w.concurrency,
    lockDuration: w.lock_ms,
    stalledInterval: w.stalled_interval_ms,
    maxStalledCount: w.max_stalled_count,
    autorun: true,
  });
  worker.on('ready', () => {
    ready = true;
  });
  worker.on('error', (err) => log.warn('billing worker: redis error', { err }));
  worker.on('failed', (job, err) => {
    const attempts = job?.opts.attempts ?? 1;
    const final = (job?.attemptsMade ?? 0) >= attempts;
    (final ? log.error : log.warn)(
      final ? 'billing worker: batch failed for good (kept; replay with "usage replay-failed")' : 'billing worker: batch failed, will retry',
      {
        job_id: job?.id,
        attempts_made: job?.attemptsMade,
        err,
      },
    );
  });

  return {
    ready: () => ready && worker.isRunning(),
    close() {
      closing ??= (async () => {
        ready = false;
        await worker.close().catch((err: unknown) => log.warn('billing worker: close failed', { err }));
        await closeRedis(connection);
      })();
      return closing;
    },
  };
}
