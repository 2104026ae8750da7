/**
 * Cluster-wide buckets in Redis: one Lua script per check (EVALSHA, one round
 * trip, atomic), the same GCRA as ./gcra.ts. Tracks Redis health so a check
 * never waits on a Redis that is known to be down: after a failure the caller
 * uses its local share for `retryMs`, then one probe request tries Redis again.
 */
import { createHash } from 'node:crypto';
import type { Redis } from '../clients/redis.js';
import { redisHealth } from '../clients/redis-health.js';
import type { Logger } from '../observe/log.js';
import type { Rate, Step } from './gcra.js';

// ARGV: now_ms (negative: use Redis TIME), emission_ms, tolerance_ms, cost.
// Returns {allowed 0|1, debt_ms as a string} (Lua numbers would be truncated to integers).
const SCRIPT = `
local now = tonumber(ARGV[1])
if now < 0 then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local T = tonumber(ARGV[2])
local tau = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local nxt = tat + cost * T
if nxt - now <= tau + T + 1e-6 then
  redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
  return {1, string.format('%.3f', nxt - now)}
end
return {0, string.format('%.3f', tat - now)}
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

export interface GlobalBuckets {
  /** False while Redis is disconnected, backing off after a failure, or being probed by another check. */
  usable(nowMs: number): boolean;
  /** One atomic GCRA step in Redis; null when Redis failed or timed out (the caller degrades). Never rejects. */
  take(key: string, nowMs: number, rate: Rate, cost: number): Promise<Step | null>;
}

export interface GlobalOptions {
  redis: Redis;
  /** Prepended to every key (config redis.key_prefix + "rl:"). */
  keyPrefix: string;
  timeoutMs: number;
  retryMs: number;
  /** Pass the sidecar's clock to the script instead of Redis TIME. */
  localClock: boolean;
  log: Logger;
}

export function createGlobalBuckets(opts: GlobalOptions): GlobalBuckets {
  const { redis, keyPrefix, timeoutMs, retryMs, localClock, log } = opts;
  let state: 'up' | 'down' | 'probing' = 'up';
  const health = redisHealth(redis);
  let downUntil = 0;

  function usable(nowMs: number): boolean {
    if (!health.up()) return false;
    if (state === 'up') return true;
    if (state === 'down' && nowMs >= downUntil) return true; // this check becomes the probe
    return false;
  }

  async function take(key: string, nowMs: number, rate: Rate, cost: number): Promise<Step | null> {
    if (state === 'down') state = 'probing';
    const args = [keyPrefix + key, localClock ? nowMs.toFixed(3) : '-1', String(rate.emissionMs), String(rate.toleranceMs), String(cost)];
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        run(args),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(resolve, timeoutMs, 'timeout');
          timer.unref?.();
        }),
      ]);
      // The limiter's own latency budget, not a sign Redis is down: the shared health mark is left alone.
      if (reply === 'timeout') return failed(nowMs, new Error(`redis did not answer within ${timeoutMs} ms`), false);
      if (state !== 'up') log.info('ratelimit: redis reachable again, global limits restored');
      state = 'up';
      const [allowed, debt] = reply as [number, string];
      return { allowed: allowed === 1, debtMs: Math.max(0, Number(debt)) };
    } catch (err) {
      return failed(nowMs, err);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async function run(args: string[]): Promise<unknown> {
    const [key, ...argv] = args as [string, ...string[]];
    try {
      return await redis.evalsha(SHA, 1, key, ...argv);
    } catch (err) {
      // First use on this Redis (or after a restart/SCRIPT FLUSH): send the body once.
      if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
      return await redis.eval(SCRIPT, 1, key, ...argv);
    }
  }

  function failed(nowMs: number, err: unknown, markDown = true): null {
    if (markDown) health.failed(err);
    if (state === 'up') log.warn('ratelimit: redis unavailable, enforcing the local share', { err: err as Error, retry_ms: retryMs });
    state = 'down';
    downUntil = nowMs + retryMs;
    return null;
  }

  return { usable, take };
}
