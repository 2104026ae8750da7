/**
 * Which L1 cache keys hold a decision of a given user, org or API key, so a change
 * message (`<prefix>auth:changes`) evicts them without scanning the cache.
 *
 * Kept small: one map per kind, from the id (the string the cached context already
 * holds) to its one cache key, the common case, or a set of them. Updated when an
 * entry is stored or removed (lru-cache calls `dispose` synchronously inside `set`
 * and `delete`, so a replaced entry is removed before its successor is added);
 * never touched on a cache hit.
 */
import type { AuthContext } from '../request/principal.js';

/** What a change message names: every entry of a user, of an org, or of one API key. */
export type OwnerKind = 'user' | 'org' | 'key';

/** An L1 cache key (a number: ./cache.ts). */
type Key = number;
type Slot = Key | Set<Key>;

export function createOwnerIndex() {
  const maps: Record<OwnerKind, Map<string, Slot>> = { user: new Map(), org: new Map(), key: new Map() };

  function add(map: Map<string, Slot>, id: string, k: Key): void {
    const cur = map.get(id);
    if (cur === undefined) map.set(id, k);
    else if (typeof cur === 'number') {
      if (cur !== k) map.set(id, new Set([cur, k]));
    } else cur.add(k);
  }

  function remove(map: Map<string, Slot>, id: string, k: Key): void {
    const cur = map.get(id);
    if (cur === k) map.delete(id);
    else if (typeof cur === 'object' && cur.delete(k) && cur.size === 1) map.set(id, cur.values().next().value as Key);
  }

  return {
    add(k: Key, ctx: AuthContext): void {
      add(maps.user, ctx.user_id, k);
      if (ctx.org_id !== undefined) add(maps.org, ctx.org_id, k);
      if (ctx.key_id !== undefined) add(maps.key, ctx.key_id, k);
    },
    remove(k: Key, ctx: AuthContext): void {
      remove(maps.user, ctx.user_id, k);
      if (ctx.org_id !== undefined) remove(maps.org, ctx.org_id, k);
      if (ctx.key_id !== undefined) remove(maps.key, ctx.key_id, k);
    },
    /** A copy of the cache keys indexed under this owner. */
    keysOf(kind: OwnerKind, id: string): Key[] {
      const cur = maps[kind].get(id);
      return cur === undefined ? [] : typeof cur === 'number' ? [cur] : [...cur];
    },
    /** Owners indexed, all kinds (tests: the index shrinks with the cache). */
    size: () => maps.user.size + maps.org.size + maps.key.size,
  };
}

/** Does this context belong to the owner a change names? */
export function ownedBy(ctx: AuthContext, kind: OwnerKind, id: string): boolean {
  return kind === 'user' ? ctx.user_id === id : kind === 'org' ? ctx.org_id === id : ctx.key_id === id;
}
