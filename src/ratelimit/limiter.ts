/**
 * The rate limiter: GCRA buckets per subject × route class, in the in-process
 * store shared by all threads (scope local) and, for scope global, in Redis
 * with the local bucket as a pre-check. Redis trouble never opens the gates:
 * each sidecar then enforces its share, limit ÷ `ratelimit.replicas`.
 */
import type { RatelimitConfig } from './schema.js';
import type { Logger } from '../observe/log.js';
import { cellCounter } from '../observe/cells.js';
import type { Metrics } from '../observe/metrics.js';
import type { Redis } from '../clients/redis.js';
import { describe, rateOf, type Rate, type Step } from './gcra.js';
import { createGlobalBuckets, type GlobalBuckets } from './global.js';
import type { LimitPolicy } from './policy.js';
import { createBucketStore, keyPrefix, type BucketStore, type KeyPrefix } from './store.js';

/** The answer for one check. */
export interface Decision {
  allowed: boolean;
  /** Requests per window of the policy that decided (the local share when degraded). */
  limit: number;
  /** Requests that would pass right now (at most burst + 1). */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetS: number;
  /** Seconds until a retry can pass; 0 when allowed, ≥ 1 when limited. */
  retryAfterS: number;
  /** Decided by the local share because the global store was unreachable. */
  degraded: boolean;
  /** Refused because the global store was unreachable and the caller asked to fail closed (never set otherwise). */
  unavailable?: boolean;
}

export interface RateLimiter {
  /**
   * Take `cost` (default 1) tokens from `subject`'s bucket for `policy`
   * (bucket key: route class, rate and subject). Synchronous for scope local and
   * whenever the local pre-check already refuses; a Promise when Redis is asked.
   * Never throws and never rejects: Redis failures and timeouts degrade to the
   * local share. The policy is read on every call, so a new tier applies at once
   * (a changed rate starts from a full bucket: at most one extra burst per change).
   * `failClosed` (fail-closed routes, see routes.ts): for scope global with Redis
   * configured, a Redis failure refuses (`unavailable: true`) instead of degrading.
   */
  check(subject: string, policy: LimitPolicy, cost?: number, failClosed?: boolean): Decision | Promise<Decision>;
  /** The in-process store; hand `store.buffer` to worker threads (see {@link RateLimiterDeps.store}). */
  readonly store: BucketStore;
  /** Waits for in-flight Redis checks; later checks use only local state. Idempotent. Does not close `redis` (the caller owns it). */
  close(): Promise<void>;
}

export interface RateLimiterDeps {
  /** Required for scope global; without it every global check is decided by the local share. */
  redis?: Redis;
  metrics: Metrics;
  log: Logger;
  /** Clock in ms (default Date.now); tests inject one. */
  now?: () => number;
  /** A store shared with other threads (attachBucketStore(workerData.buffer)); default: a new one. */
  store?: BucketStore;
}

type Outcome = 'allowed' | 'limited' | 'degraded' | 'unavailable';
const SHARE_PREFIX = '~share:';

/** Build a limiter from the frozen config. Throws only on a bug (invalid options). */
/** `cfg`: its slice of the config: `ratelimit`, and the Redis key prefix. */
export function createRateLimiter(
  cfg: { readonly ratelimit: RatelimitConfig; readonly redis?: { readonly key_prefix: string } | undefined },
  deps: RateLimiterDeps,
): RateLimiter {
  const rl = cfg.ratelimit;
  const now = deps.now ?? Date.now;
  const log = deps.log;
  const store = deps.store ?? createBucketStore({ maxSubjects: rl.max_subjects });
  const count = decisionCounter(deps.metrics);
  const global: GlobalBuckets | undefined = deps.redis
    ? createGlobalBuckets({
        redis: deps.redis,
        keyPrefix: `${cfg.redis?.key_prefix ?? 'argus:'}rl:`,
        timeoutMs: rl.redis_timeout_ms,
        retryMs: rl.redis_retry_ms,
        localClock: rl.clock === 'local',
        log,
      })
    : undefined;
  if (rl.enabled && rl.scope === 'global' && !global) log.warn('ratelimit: scope global without redis, enforcing the local share', { replicas: rl.replicas });
  // Global checks still waiting for Redis: a count, not a Set of promises (a Set with this much churn
  // keeps every request's objects alive until a full GC: src/server/live-exchanges.ts says why).
  let pending = 0;
  let whenIdle: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  // Per policy object (tier policies are reused across requests): its rate and bucket key prefixes.
  interface Derived {
    readonly prefix: KeyPrefix;
    readonly sharePrefix: KeyPrefix;
    readonly rate: Rate;
  }
  const derived = new WeakMap<LimitPolicy, Derived>();
  function derivedOf(policy: LimitPolicy): Derived {
    let d = derived.get(policy);
    if (d === undefined) {
      // The rate is part of the key: a new tier or override starts a fresh bucket at once
      // instead of inheriting debt measured in the old rate's time units.
      const text = `${policy.routeClass}:${policy.limit}/${policy.windowS}+${policy.burst}:`;
      d = { prefix: keyPrefix(text), sharePrefix: keyPrefix(SHARE_PREFIX + text), rate: rateOf(policy) };
      derived.set(policy, d);
    }
    return d;
  }

  function check(subject: string, policy: LimitPolicy, cost = 1, failClosed = false): Decision | Promise<Decision> {
    // A zero, negative or NaN cost would mint tokens; count it as one request.
    if (!(cost > 0 && Number.isFinite(cost))) cost = 1;
    try {
      if (!rl.enabled) return { allowed: true, limit: policy.limit, remaining: policy.burst + 1, resetS: 0, retryAfterS: 0, degraded: false };
      const t = now();
      const d = derivedOf(policy);
      const rate = d.rate;
      if ((policy.scope ?? rl.scope) === 'local') return finish(policy, rate, store.take(d.prefix, subject, t, rate, cost, 'take'), cost, false);
      // Pre-check: this sidecar's own admissions already exhaust the bucket, so the global one would refuse too.
      const pre = store.take(d.prefix, subject, t, rate, cost, 'peek');
      if (!pre.allowed) return finish(policy, rate, pre, cost, false);
      if (!global) return degraded(d, subject, policy, t, cost);
      if (closing || !global.usable(t)) return failClosed ? unavailable(policy) : degraded(d, subject, policy, t, cost);
      const p = global
        .take(d.prefix.text + subject, t, rate, cost)
        .then((step) => {
          if (!step) return failClosed ? unavailable(policy) : degraded(d, subject, policy, t, cost);
          if (step.allowed) store.take(d.prefix, subject, t, rate, cost, 'force');
          return finish(policy, rate, step, cost, false);
        })
        .catch((err: unknown) => internalError(policy, err));
      pending++;
      void p.finally(() => {
        if (--pending === 0) whenIdle?.();
      });
      return p;
    } catch (err) {
      return internalError(policy, err);
    }
  }

  /** The local share: limit ÷ replicas, burst ÷ replicas, in its own bucket. */
  function degraded(keys: Derived, subject: string, policy: LimitPolicy, t: number, cost: number): Decision {
    const share = { limit: policy.limit / rl.replicas, burst: Math.floor(policy.burst / rl.replicas), windowS: policy.windowS };
    const shareRate = rateOf(share);
    const step = store.take(keys.sharePrefix, subject, t, shareRate, cost, 'take');
    // Keep the pre-check bucket in step with what this sidecar admitted.
    if (step.allowed) store.take(keys.prefix, subject, t, keys.rate, cost, 'force');
    const d = finish({ ...policy, ...share }, shareRate, step, cost, true);
    d.limit = Math.max(1, Math.floor(share.limit));
    return d;
  }

  /** Fail-closed refusal: no token taken anywhere. */
  function unavailable(policy: LimitPolicy): Decision {
    count(policy.tier, 'unavailable');
    return { allowed: false, limit: policy.limit, remaining: 0, resetS: 0, retryAfterS: 1, degraded: false, unavailable: true };
  }

  function finish(policy: LimitPolicy, rate: Rate, step: Step, cost: number, isDegraded: boolean): Decision {
    const info = describe(policy, rate, step, cost);
    const outcome: Outcome = !step.allowed ? 'limited' : isDegraded ? 'degraded' : 'allowed';
    count(policy.tier, outcome);
    return { allowed: step.allowed, limit: policy.limit, remaining: info.remaining, resetS: info.resetS, retryAfterS: info.retryAfterS, degraded: isDegraded };
  }

  // A bug here must not turn into a 500 for every request: admit, count as degraded, and say so loudly.
  function internalError(policy: LimitPolicy, err: unknown): Decision {
    log.error('ratelimit: check failed (bug), admitting', { err: err as Error, policy: policy.name });
    count(policy.tier, 'degraded');
    return { allowed: true, limit: policy.limit, remaining: 0, resetS: 0, retryAfterS: 0, degraded: true };
  }

  function close(): Promise<void> {
    closing ??= pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => (whenIdle = resolve));
    return closing;
  }

  return { check, store, close };
}

/** argus_ratelimit_decisions_total{tier,outcome}: a hot-path counter (see observe/cells.ts). */
function decisionCounter(metrics: Metrics): (tier: string, outcome: Outcome) => void {
  const cell = cellCounter(metrics.registry, {
    name: 'argus_ratelimit_decisions_total',
    help: 'Rate-limit decisions by tier and outcome (degraded: admitted by the local share while Redis was unreachable; unavailable: refused 503 on a fail-closed route for the same reason)',
    labelNames: ['tier', 'outcome'],
  });
  return (tier, outcome) => {
    cell(tier, outcome).n++;
  };
}
