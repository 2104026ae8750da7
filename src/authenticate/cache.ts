/**
 * L1: the per-process decision cache, keyed by a number made from the
 * credential's last {@link KEY_CHARS} characters, and valid only for the exact
 * credential it holds.
 *
 * Why not a digest, nor the whole string: a SHA-256 of a 600-character token costs
 * ~0.9 µs per lookup (issue 3 measurements), and even V8's own string hash of it,
 * computed afresh for every request's new string, cost 1.2 µs per lookup against
 * 0.5 µs for the tail plus one full comparison (20,000 cached tokens). The tail is
 * the signature of a JWT, the random part of an API key, the MAC of a session
 * header. Why a number and not the tail as a string: the tail is a new string on
 * every request, which the Map flattens and hashes; a number key is a small
 * integer V8 hashes in a few instructions. One lookup of a fresh 600-character
 * token among 20,000 entries (bench/l1-lookup-micro.ts, one pinned core, AMD EPYC
 * VM, two runs): 151–174 ns with the 32-character tail as the key, 85–107 ns with
 * FNV-1a over the last 12 characters (129 ns over all 32). 12 characters still
 * hold 71 random bits of an API key and more of a JWT signature or a session MAC. The number is 31 bits, so two credentials can share one (a cache
 * of 20,000 entries holds 0.09 such pairs on average); like a shared tail, that is
 * only a miss: an entry is used only when the whole credential equals the one it
 * was made for, and a different credential with the same key is verified from
 * scratch and replaces the entry, so the worst it can do is cost a re-check.
 * Memory stays bounded by `max_entries` and by the credential size cap checked
 * before lookup (`auth.cache.max_credential_bytes`).
 *
 * Entries carry two deadlines (ms, injected clock): `freshUntil` (serve without a
 * re-check; never past the credential's exp) and `staleUntil` (fail-open routes may
 * still serve a positive entry this late while Redis/JWKS are unreachable).
 *
 * Positive entries are also indexed by owner (user, org, key id) so that a change
 * message (`<prefix>auth:changes`) evicts what it touches without scanning the
 * cache. The index is kept on insert and removal only; a hit never touches it.
 */
import { LRUCache } from 'lru-cache';
import type { Denial } from '../errors.js';
import type { AuthContext } from '../request/principal.js';
import type { CredentialKind } from './credentials.js';
import { createOwnerIndex, ownedBy, type OwnerKind } from './owner-index.js';

/** How much of a credential's end keys the map (see the module comment). */
export const KEY_CHARS = 12;

/** The map key of a credential: FNV-1a over its last KEY_CHARS characters, 31 bits (a small integer to V8). */
export function keyOf(value: string): number {
  let h = 0x811c9dc5;
  for (let i = value.length > KEY_CHARS ? value.length - KEY_CHARS : 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  return h >>> 1;
}

export interface CacheEntry {
  readonly kind: CredentialKind;
  /** The whole credential this decision is for. */
  readonly value: string;
  /** null on a negative entry. */
  readonly ctx: AuthContext | null;
  /** A positive entry's fresh outcome, made once: a cache hit returns it as it is (null on a negative entry). */
  readonly hit: { readonly ok: true; readonly ctx: AuthContext } | null;
  readonly denial: Denial | null;
  readonly freshUntil: number;
  readonly staleUntil: number;
}

export interface L1Options {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly negativeTtlMs: number;
  readonly maxStaleMs: number;
}

export type L1 = ReturnType<typeof createL1>;

/** The options of every L1 lookup (lru-cache sets `status` in it when its metrics channel has subscribers; reset before each get). */
const GET_OPTIONS: LRUCache.GetOptions<number, CacheEntry, unknown> = {};

export type { OwnerKind } from './owner-index.js';

export function createL1(opts: L1Options) {
  const owners = createOwnerIndex();
  const lru = new LRUCache<number, CacheEntry>({
    max: opts.maxEntries,
    dispose: (e, k) => {
      if (e.ctx !== null) owners.remove(k, e.ctx);
    },
  });

  function put(k: number, e: CacheEntry): void {
    lru.set(k, e);
    if (e.ctx !== null) owners.add(k, e.ctx);
  }

  /** The entry for this credential (fresh or not), or undefined. Drops entries past every deadline. */
  function get(kind: CredentialKind, value: string, now: number): CacheEntry | undefined {
    const key = keyOf(value);
    // lru-cache's get(k) makes an options object per call (and writes `status` into it): one reused instead.
    GET_OPTIONS.status = undefined;
    const e = lru.get(key, GET_OPTIONS);
    if (e === undefined || e.kind !== kind || e.value !== value) return undefined;
    if (now >= e.staleUntil && now >= e.freshUntil) {
      lru.delete(key);
      return undefined;
    }
    return e;
  }

  /** Cache a positive decision; `expMs` is the credential's own expiry (ms), if any. */
  function putPositive(kind: CredentialKind, value: string, ctx: AuthContext, now: number): void {
    const expMs = ctx.expires_at !== undefined ? ctx.expires_at * 1000 : Infinity;
    const freshUntil = Math.min(now + opts.ttlMs, expMs);
    if (freshUntil <= now) return;
    const staleUntil = Math.min(now + Math.max(opts.ttlMs, opts.maxStaleMs), expMs);
    put(keyOf(value), { kind, value, ctx, hit: Object.freeze({ ok: true as const, ctx }), denial: null, freshUntil, staleUntil });
  }

  /** Cache a refusal briefly, so a repeated bad credential costs no crypto or Redis. */
  function putNegative(kind: CredentialKind, value: string, denial: Denial, now: number): void {
    const until = now + opts.negativeTtlMs;
    lru.set(keyOf(value), { kind, value, ctx: null, hit: null, denial, freshUntil: until, staleUntil: until });
  }

  /** Drop every positive entry of a user, an org or an API key (through the index); returns how many. */
  function evictOwner(kind: OwnerKind, id: string): number {
    let n = 0;
    for (const k of owners.keysOf(kind, id)) {
      const ctx = lru.peek(k)?.ctx;
      if (ctx && ownedBy(ctx, kind, id) && lru.delete(k)) n++;
    }
    return n;
  }

  /** Drop every positive entry whose context matches; returns how many were dropped. */
  function evict(match: (ctx: AuthContext) => boolean): number {
    const doomed: number[] = [];
    // A full scan: revocations are rare, and an index per user/key/session would tax every insert.
    lru.forEach((e, k) => {
      if (e.ctx !== null && match(e.ctx)) doomed.push(k);
    });
    for (const k of doomed) lru.delete(k);
    return doomed.length;
  }

  /**
   * Make every entry due for a re-check now, keeping its stale deadline (Redis
   * lost its projection: decisions made against the old data are re-checked
   * against the deny state as it comes back). Returns how many were due later.
   */
  function expireFresh(now: number): number {
    const due: Array<[number, CacheEntry]> = [];
    lru.forEach((e, k) => {
      if (e.freshUntil > now) due.push([k, e]);
    });
    for (const [k, e] of due) put(k, { ...e, freshUntil: now, staleUntil: Math.max(e.staleUntil, now) });
    return due.length;
  }

  /** Positive contexts currently cached for a user (admin feature checks in standalone mode). */
  function contextsOf(userId: string): AuthContext[] {
    const out: AuthContext[] = [];
    lru.forEach((e) => {
      if (e.ctx !== null && e.ctx.user_id === userId) out.push(e.ctx);
    });
    return out;
  }

  return {
    get,
    putPositive,
    putNegative,
    evict,
    evictOwner,
    expireFresh,
    contextsOf,
    clear: () => lru.clear(),
    size: () => lru.size,
    /** Owner tags indexed (tests: the index shrinks with the cache). */
    indexSize: owners.size,
  };
}
