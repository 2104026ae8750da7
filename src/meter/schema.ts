/** Config schema of the `metering:` and `stripe:` sections. */
import { z } from 'zod';

const ms = (def: number) => z.number().int().positive().default(def);

export const meteringSchema = z
  .object({
    enabled: z.boolean().default(true),
    queue: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-"')
      .default('argus-usage'),
    /** One process per directory: the spool's files are replayed (and deleted) by whoever owns it. */
    spool_dir: z.string().min(1).default('./var/spool'),
    /** Service name stamped on every event (sibyl, prism, jane…). */
    service: z.string().min(1).default('default'),
    /**
     * A batch is sent after this many ms, or as soon as it holds `batch_max_events`.
     * 50 ms: each BullMQ addBulk costs the event loop a fixed ~0.3–1 ms, so at
     * 5 ms a busy route pays it 200 times a second (measured at 5,000 rps on the
     * JWT route: p50 0.6–1.1 ms, p99 55–63 ms at 5 ms; p50 0.15 ms, p99 22–35 ms at 50 ms).
     */
    flush_interval_ms: ms(50),
    batch_max_events: z.number().int().min(1).max(10000).default(500),
    /** Events held in memory; past this, batches are written to the spool synchronously (never dropped). */
    max_buffer_events: z.number().int().min(1).default(50000),
    /** A queue add slower than this counts as "Redis slow": the batch goes to the spool. */
    queue_timeout_ms: ms(1000),
    /** Kept for old configs: the spool is sent every `ack_interval_ms` now. */
    replay_interval_ms: ms(1000),
    /** Spool files rotate past this size. */
    spool_file_bytes: z
      .number()
      .int()
      .min(4096)
      .default(8 * 1024 * 1024),
    /**
     * When the spool calls fdatasync (docs/metering.md). Every event is written with
     * write(2) before its response completes, which a process crash (kill -9)
     * never loses. `batch` (default): fdatasync once per batch, before it is sent,
     * in the background (a machine crash loses at most the last flush interval);
     * `always`: fdatasync before the held responses go out (a machine crash loses
     * nothing answered; costs a disk flush per event-loop turn); `none`: the OS
     * writes back when it likes (a machine crash loses up to its writeback delay).
     */
    spool_fsync: z.enum(['none', 'batch', 'always']).default('batch'),
    /** How often the producer asks Redis which of its batches the workers committed (and re-sends what Redis lost). */
    ack_interval_ms: ms(1000),
    /**
     * How a batch travels in its job (src/meter/wire.ts): 2, rows (~6× cheaper to
     * serialise on the request thread); 1, event objects, for workers older than
     * format 2 during an upgrade. Workers read both.
     */
    job_format: z.union([z.literal(1), z.literal(2)]).default(2),
    /** Job options stamped on every batch (the worker's retry policy). */
    job_attempts: z.number().int().min(1).default(12),
    job_backoff_ms: ms(1000),
    /** Completed jobs are kept this long so a replayed batch (same job id) is recognised and skipped. */
    keep_completed_s: z.number().int().nonnegative().default(3600),
    worker: z
      .object({
        /** Batches processed at once per worker process. */
        concurrency: z.number().int().min(1).max(256).default(4),
        /** A job whose worker stopped renewing its lock this long ago is retried by another worker. */
        lock_ms: ms(30000),
        stalled_interval_ms: ms(30000),
        /** Stalls (worker died mid-batch) tolerated before a job is moved to failed. */
        max_stalled_count: z.number().int().min(0).default(10),
        /** `argus-sidecar worker`'s /healthz, /readyz, /metrics: its own port, so a worker beside a proxy (admin 9090) shares a config. */
        admin: z
          .object({
            host: z.string().min(1).default('0.0.0.0'),
            port: z.number().int().min(0).max(65535).default(9091),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
  })
  .strict();

/** Stripe Billing meter names, one per usage kind; a kind without a name is not reported. */
const metersSchema = z
  .object({
    request: z.string().min(1).max(100).optional(),
    llm: z.string().min(1).max(100).optional(),
    trading: z.string().min(1).max(100).optional(),
  })
  .strict();

export const stripeSchema = z
  .object({
    /** Secret key; `${STRIPE_API_KEY}` in the file. Empty or section absent → reporting off, rows stay unreported. */
    api_key: z.string().default(''),
    meters: metersSchema.default({ request: 'argus_requests', llm: 'argus_llm_tokens', trading: 'argus_trading' }),
    /** Aggregation window: one meter event per (customer, meter, window). */
    window_s: z.number().int().min(60).max(86400).default(3600),
    /** A window is reported this long after it ended (late events still get their own follow-up event). */
    settle_s: z.number().int().nonnegative().default(60),
    interval_ms: ms(60000),
    /** Longest pause after Stripe answered 429/5xx (the pause doubles from interval_ms up to this). */
    max_backoff_ms: ms(300000),
    timeout_ms: ms(10000),
    /** Meter events sent per cycle at most. */
    batch_limit: z.number().int().min(1).max(10000).default(500),
    /** Stripe API base (default https://api.stripe.com); a local stand-in in tests. */
    base_url: z.string().url().optional(),
  })
  .strict();

export type MeteringConfig = z.infer<typeof meteringSchema>;
export type StripeConfig = z.infer<typeof stripeSchema>;
