/**
 * "Is Redis up right now?" for fail-closed decisions, without a round trip.
 *
 * Down as soon as either (a) ioredis's connection is not `ready` (a killed or
 * restarted Redis closes the socket: the status changes in the same event-loop
 * turn the close is read), or (b) a command on it failed for a reason other
 * than a Redis reply error (a timeout on a Redis that stopped answering but
 * kept the socket open). After (b) a background PING every 200 ms clears the
 * mark on the first answer; a reconnect (`ready`) clears it too.
 *
 * One tracker per connection (a WeakMap), so the stages sharing a connection
 * (authentication, rate limits) share what each of them saw.
 */
import { ReplyError } from 'ioredis';
import type { Redis } from './redis.js';

export interface RedisHealth {
  /** True when the connection is ready and no command has failed since the last sign of life. */
  up(): boolean;
  /** Report a failed command; reply errors (WRONGTYPE, NOSCRIPT…) do not count. */
  failed(err: unknown): void;
}

const trackers = new WeakMap<Redis, RedisHealth>();
const PROBE_MS = 200;

export function redisHealth(redis: Redis): RedisHealth {
  let h = trackers.get(redis);
  if (h !== undefined) return h;
  let suspect = false;
  let probing = false;
  redis.on('ready', () => {
    suspect = false;
  });

  function probe(): void {
    if (probing) return;
    probing = true;
    const tick = (): void => {
      if (!suspect || redis.status === 'end') {
        probing = false;
        return;
      }
      redis.ping().then(
        () => {
          suspect = false;
          probing = false;
        },
        () => void setTimeout(tick, PROBE_MS).unref(),
      );
    };
    tick();
  }

  h = {
    up: () => !suspect && redis.status === 'ready',
    failed(err) {
      if (err instanceof ReplyError || String((err as Error)?.message).startsWith('NOSCRIPT')) return;
      suspect = true;
      probe();
    },
  };
  trackers.set(redis, h);
  return h;
}
