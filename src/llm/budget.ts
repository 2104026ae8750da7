/**
 * Daily token budget with reserve-then-reconcile.
 *
 * Before forwarding, `reserve` adds an estimate (prompt tokens + max_tokens) to
 * the caller's counter for the UTC day, atomically (one Lua script), and admits
 * the request only while the counter is below the limit. After the response,
 * `settle` adds (actual − reserved). So concurrent requests can overspend the
 * budget by at most the reservations in flight when the last one was admitted.
 * The day key expires shortly after the day ends, taking any reservation that
 * was never settled (a crashed sidecar) with it.
 *
 * Fail closed: Redis unreachable → 503 ARGUS_DEPENDENCY_UNAVAILABLE.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { deny, type Denial } from '../errors.js';
import type { LlmRequestInfo } from './request.js';

export interface BudgetReservation {
  readonly user_id: string;
  /** Counter key (the day is part of it: a settle after midnight adjusts the right day). */
  readonly key: string;
  /** Tokens reserved. */
  readonly tokens: number;
  /** Counter value right after the reservation. */
  readonly used: number;
}

export type QuotaOutcome = 'reserved' | 'exceeded' | 'unavailable';

export interface TokenBudget {
  /**
   * Reserve `tokens` against `dailyLimit` for the user's current UTC day.
   * Denials: 429 ARGUS_QUOTA_EXCEEDED (with Retry-After: seconds to midnight UTC),
   * 503 ARGUS_DEPENDENCY_UNAVAILABLE when the store is unreachable.
   */
  reserve(userId: string, dailyLimit: number, tokens: number): Promise<BudgetReservation | Denial>;
  /**
   * Reconcile a reservation to the tokens actually used. Call at most once per
   * reservation (later calls are no-ops). Resolves false when the store failed
   * (the reservation then stands until the day key expires); never rejects.
   */
  settle(reservation: BudgetReservation, actualTokens: number): Promise<boolean>;
  /** Tokens counted (used + reserved) today; for admin and tests. Rejects when the store is down. */
  used(userId: string): Promise<number>;
  /** Idempotent. Does not close a Redis connection it was given. */
  close(): Promise<void>;
}

export interface BudgetOptions {
  /** Clock (ms since epoch). Default Date.now. */
  now?: () => number;
  /** Keep a day's key this long after midnight UTC, so settles of streams crossing midnight land. Default 1 h. */
  graceMs?: number;
  /** Called with each reserve outcome (argus_llm_quota_decisions_total). */
  onDecision?: (outcome: QuotaOutcome) => void;
}

const DAY_MS = 86_400_000;

/** Tokens to reserve for a request: its prompt estimate plus its output cap. */
export function reservationTokens(info: Pick<LlmRequestInfo, 'prompt_tokens' | 'max_tokens'>, defaultMaxTokens: number): number {
  return info.prompt_tokens + (info.max_tokens ?? defaultMaxTokens);
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const nextMidnight = (ms: number) => (Math.floor(ms / DAY_MS) + 1) * DAY_MS;

function exceeded(now: number, limit: number): Denial {
  const retry = Math.max(1, Math.ceil((nextMidnight(now) - now) / 1000));
  return deny('ARGUS_QUOTA_EXCEEDED', `daily token budget of ${limit} is used up`, [['retry-after', String(retry)]]);
}

const unavailable = (): Denial => deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'token budget store unavailable');

// KEYS[1] day counter; ARGV: tokens, limit, expire-at (ms). Returns {admitted, counter}.
const RESERVE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[2]) then return {0, used} end
local now = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {1, now}`;

// KEYS[1] day counter; ARGV[1] delta. A vanished key (day over) is left alone
// rather than recreated without a TTL. Never below zero.
const SETTLE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') return 0 end
return v`;

/** A budget shared by every sidecar through Redis (use `createRedis`: fail fast). */
export function createRedisBudget(redis: Redis, opts: BudgetOptions & { prefix: string }): TokenBudget {
  const now = opts.now ?? Date.now;
  const grace = opts.graceMs ?? 3_600_000;
  const onDecision = opts.onDecision ?? (() => {});
  const keyOf = (userId: string, t: number) => `${opts.prefix}llm:budget:${userId}:${dayOf(t)}`;
  const settled = new WeakSet<BudgetReservation>();
  let closed: Promise<void> | undefined;

  async function run(script: string, key: string, args: Array<string | number>): Promise<unknown> {
    const sha = sha1(script);
    try {
      return await redis.evalsha(sha, 1, key, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return await redis.eval(script, 1, key, ...args);
    }
  }

  return {
    async reserve(userId, dailyLimit, tokens) {
      const t = now();
      const key = keyOf(userId, t);
      let reply: unknown;
      try {
        reply = await run(RESERVE, key, [Math.max(0, Math.ceil(tokens)), dailyLimit, nextMidnight(t) + grace]);
      } catch {
        onDecision('unavailable');
        return unavailable();
      }
      const [admitted, used] = reply as [number, number];
      if (admitted !== 1) {
        onDecision('exceeded');
        return exceeded(t, dailyLimit);
      }
      onDecision('reserved');
      return { user_id: userId, key, tokens: Math.max(0, Math.ceil(tokens)), used };
    },
    async settle(reservation, actualTokens) {
      if (settled.has(reservation)) return true;
      settled.add(reservation);
      const delta = Math.max(0, Math.ceil(actualTokens)) - reservation.tokens;
      if (delta === 0) return true;
      try {
        await run(SETTLE, reservation.key, [delta]);
        return true;
      } catch {
        return false;
      }
    },
    async used(userId) {
      return Number((await redis.get(keyOf(userId, now()))) ?? 0);
    },
    close() {
      return (closed ??= Promise.resolve());
    },
  };
}

/**
 * Standalone budget (no Redis): same semantics, in this process's memory. Note:
 * per process, so with `threads: N` each thread would count separately.
 */
export function createMemoryBudget(opts: BudgetOptions = {}): TokenBudget {
  const now = opts.now ?? Date.now;
  const onDecision = opts.onDecision ?? (() => {});
  let day = '';
  let counters = new Map<string, number>();
  const settled = new WeakSet<BudgetReservation>();
  let closed: Promise<void> | undefined;

  function today(t: number): Map<string, number> {
    const d = dayOf(t);
    if (d !== day) {
      day = d; // yesterday's counters expire with the day, like the Redis keys
      counters = new Map();
    }
    return counters;
  }

  return {
    async reserve(userId, dailyLimit, tokens) {
      const t = now();
      const map = today(t);
      const used = map.get(userId) ?? 0;
      if (used >= dailyLimit) {
        onDecision('exceeded');
        return exceeded(t, dailyLimit);
      }
      const n = Math.max(0, Math.ceil(tokens));
      map.set(userId, used + n);
      onDecision('reserved');
      return { user_id: userId, key: `${day}:${userId}`, tokens: n, used: used + n };
    },
    async settle(reservation, actualTokens) {
      if (settled.has(reservation)) return true;
      settled.add(reservation);
      if (reservation.key !== `${day}:${reservation.user_id}`) return true; // that day is gone
      const v = (counters.get(reservation.user_id) ?? 0) + Math.max(0, Math.ceil(actualTokens)) - reservation.tokens;
      counters.set(reservation.user_id, Math.max(0, v));
      return true;
    },
    async used(userId) {
      return today(now()).get(userId) ?? 0;
    },
    close() {
      return (closed ??= Promise.resolve());
    },
  };
}

const shaCache = new Map<string, string>();
function sha1(script: string): string {
  let s = shaCache.get(script);
  if (!s) shaCache.set(script, (s = createHash('sha1').update(script).digest('hex')));
  return s;
}
