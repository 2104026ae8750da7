/**
 * The control process's cache of user rows for entitlement checks: entries
 * live `auth.cache.ttl_ms` and are evicted at once by a change message on
 * `<prefix>auth:changes` (the same one sidecars read), so a check answers from
 * memory on a hit and never lags a committed change by more than the pub/sub hop.
 */
import type { UserRow } from '../../identity-admin/userstore.js';
import type { Pool } from '../../clients/postgres.js';

export interface UserCache {
  get(userId: string): Promise<UserRow | null>;
  evict(userId: string): void;
  clear(): void;
}

export function createUserCache(pool: Pool, opts: { ttlMs: number; maxEntries?: number; now?: () => number }): UserCache {
  const now = opts.now ?? Date.now;
  const max = opts.maxEntries ?? 100_000;
  const entries = new Map<string, { row: UserRow | null; until: number }>();
  // A load racing an eviction must not put the older row back.
  const generation = new Map<string, number>();
  return {
    async get(userId) {
      const e = entries.get(userId);
      if (e !== undefined && now() < e.until) return e.row;
      const gen = generation.get(userId) ?? 0;
      const row = (await pool.query<UserRow>(`SELECT * FROM users WHERE user_id = $1 AND status = 'active'`, [userId])).rows[0] ?? null;
      if ((generation.get(userId) ?? 0) === gen) {
        if (entries.size >= max) entries.delete(entries.keys().next().value as string);
        entries.set(userId, { row, until: now() + opts.ttlMs });
      }
      return row;
    },
    evict(userId) {
      entries.delete(userId);
      generation.set(userId, (generation.get(userId) ?? 0) + 1);
      if (generation.size > max) generation.clear();
    },
    clear() {
      entries.clear();
    },
  };
}
