/**
 * WebSocket message limits, per connection and per user, on the same buckets
 * as requests. The per-connection bucket always lives in-process (a connection
 * belongs to one thread of one sidecar); the per-user bucket follows
 * `ratelimit.scope`, so a user's messages are capped across all connections.
 *
 * Usage (in the WS message handler):
 *   const d = await msgLimiter.check(connId, ctx.user_id);
 *   if (!d.allowed) ws.end(1008 or drop the message, per route policy)
 */
import type { Decision, RateLimiter } from './limiter.js';
import { limitPolicy, type LimitPolicy } from './policy.js';

/** Messages per window; burst defaults to 10% of the limit. */
export interface MessageRate {
  limit: number;
  windowS?: number;
  burst?: number;
}

export interface MessageLimiter {
  /**
   * Count `cost` messages (default 1) of `userId` on connection `connectionId`.
   * The connection bucket is charged first; the user bucket only when the
   * connection allowed it. Never throws; sync unless the user bucket is global.
   */
  check(connectionId: string, userId: string, cost?: number): Decision | Promise<Decision>;
  /** The policies in use (for RateLimit headers or logs). */
  readonly perConnection?: LimitPolicy;
  readonly perUser?: LimitPolicy;
}

const ALLOW_ALL: Decision = Object.freeze({ allowed: true, limit: 0, remaining: 0, resetS: 0, retryAfterS: 0, degraded: false }) as Decision;

/**
 * Build a message limiter. `tier` labels its metrics (default "ws"); `routeClass`
 * separates its buckets from request buckets (default "ws-msg"). Throws
 * TypeError on an invalid rate (a config bug).
 */
export function createMessageLimiter(
  limiter: RateLimiter,
  opts: {
    perConnection?: MessageRate;
    perUser?: MessageRate;
    tier?: string;
    routeClass?: string;
  },
): MessageLimiter {
  const tier = opts.tier ?? 'ws';
  const routeClass = opts.routeClass ?? 'ws-msg';
  const perConnection = opts.perConnection ? limitPolicy({ name: `${tier}.connection`, tier, routeClass, scope: 'local', ...opts.perConnection }) : undefined;
  const perUser = opts.perUser ? limitPolicy({ name: `${tier}.user`, tier, routeClass, ...opts.perUser }) : undefined;

  function check(connectionId: string, userId: string, cost = 1): Decision | Promise<Decision> {
    if (perConnection) {
      const c = limiter.check(`c:${connectionId}`, perConnection, cost) as Decision; // scope local: always sync
      if (!c.allowed || !perUser) return c;
    }
    return perUser ? limiter.check(`u:${userId}`, perUser, cost) : ALLOW_ALL;
  }

  return { check, ...(perConnection ? { perConnection } : {}), ...(perUser ? { perUser } : {}) };
}
