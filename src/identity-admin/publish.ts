/**
 * Writers of the Redis projection for one subject at a time: a revocation's deny
 * state plus its pub/sub message (src/authenticate/deny-state.ts), and one key
 * record. Used by `keys` and `revoke`; the request path only reads these keys
 * (src/authenticate/store.ts).
 */
import type { Redis } from 'ioredis';
import { redisKeys, revocationCommands, type Revocation } from '../authenticate/deny-state.js';
import type { KeyRecord } from '../authenticate/records.js';

/** Write the deny state for one revocation and publish it (deny-state.ts). Returns the number of subscribers reached. */
export async function publishRevocation(redis: Redis, prefix: string, r: Revocation): Promise<number> {
  // ioredis names its command methods in lower case.
  const res = await redis.multi(revocationCommands(prefix, r).map(([name, ...args]) => [name.toLowerCase(), ...args])).exec();
  const err = res?.find(([e]) => e !== null)?.[0];
  if (err) throw err;
  return Number(res?.[1]?.[1] ?? 0);
}

/** Project a key record into Redis (CLI `keys create`, `keys revoke`, `keys sync`). */
export async function projectKey(redis: Redis, prefix: string, sha256: string, rec: KeyRecord): Promise<void> {
  await redis.set(redisKeys(prefix).key(sha256), JSON.stringify(rec));
}
