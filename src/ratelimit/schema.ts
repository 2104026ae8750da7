/** Config schema of the `ratelimit:` section. */
import { z } from 'zod';

export const ratelimitSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** local: per sidecar (all its threads); global: cluster-wide through Redis. */
    scope: z.enum(['local', 'global']).default('local'),
    /** With scope global and Redis down: enforce limit / replicas locally. */
    replicas: z.number().int().positive().default(1),
    /**
     * Subjects (subject × route class) the in-process store tracks at once. Idle
     * subjects (bucket full again) are evicted first; memory is fixed at boot
     * (about 40 bytes per subject).
     */
    max_subjects: z.number().int().min(64).max(10_000_000).default(100_000),
    /** scope global: how long a check may wait for Redis before the local share decides. */
    redis_timeout_ms: z.number().int().positive().max(5000).default(100),
    /** scope global: after a Redis failure, use the local share this long before probing Redis again. */
    redis_retry_ms: z.number().int().positive().default(1000),
    /**
     * scope global: whose clock the shared buckets use. `redis` (Redis TIME, immune
     * to skew between pods) or `local` (the sidecar's clock).
     */
    clock: z.enum(['redis', 'local']).default('redis'),
  })
  .strict();

export type RatelimitConfig = z.infer<typeof ratelimitSchema>;

/** One entry of `tiers:` (the defaults are added by config.ts). */
export const tierSchema = z
  .object({
    requests_per_minute: z.number().int().positive(),
    /** Extra tokens above the per-minute rate that may be spent at once. Default: 10% of the rate. */
    burst: z.number().int().nonnegative().optional(),
  })
  .strict();

/** `tiers:` after defaults: tier name → its rate. */
export type TiersConfig = Record<string, z.infer<typeof tierSchema>>;
