/**
 * Redis connections. The proxy must never hang a request on Redis: commands fail
 * fast while disconnected (no offline queue) and callers apply their route's
 * failure policy. BullMQ needs its own connections (`maxRetriesPerRequest: null`).
 */
import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

/** A connection for the request path: fail fast, reconnect in the background. */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: false,
    ...opts,
  });
}

/** A connection for BullMQ (Queue/Worker): blocking commands, no per-request retry cap. */
export function createBullRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false, retryStrategy: (times) => Math.min(100 * times, 2000), ...opts });
}

/** Close a connection: QUIT if connected, else disconnect. Never throws. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
