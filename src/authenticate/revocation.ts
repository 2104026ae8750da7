/**
 * Revocations as this process sees them: a Redis pub/sub subscription (its own
 * connection: a subscribed connection can run no other command), a bounded local
 * deny list, L1 eviction and the listeners (WebSocket kill switch).
 *
 * The local deny list closes a race: a cold verification that started before the
 * revocation arrived must not put the revoked credential back into L1. If a
 * message is lost (subscriber down), the credential is still refused once its L1
 * entry expires (`auth.cache.ttl_ms`), because every cold path reads Redis deny state.
 *
 * The same connection carries control-plane changes (`<prefix>auth:changes`,
 * `{kind: user|org|key, id, version}`): each evicts the L1 entries it touches
 * (a user's JWT, session and key decisions; an org's keys; one key), so the next
 * request re-reads the records. A lost change converges the same way, by TTL. A
 * verification that started before a change arrived is served but not cached
 * ({@link changedSince}): it may have read the records the change replaced.
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../observe/log.js';
import { closeRedis, createRedis, type RedisTarget } from '../clients/redis.js';
import type { L1 } from './cache.js';
import type { AuthContext } from '../request/principal.js';
import type { AuthMetrics } from './metrics.js';
import { parseChange, parseRevocation, redisKeys, type Change, type Revocation, type RevocationKind } from './store.js';

export type RevokeListener = (r: { kind: RevocationKind; id: string }) => void;

/** Is this context refused by a user-level revocation at `revokedAt` (unix s)? */
export function refusedByUserRevocation(ctx: AuthContext, revokedAt: number | null): boolean {
  if (revokedAt === null) return false;
  // No issue time: we cannot prove the credential is newer than the revocation.
  return ctx.issued_at === undefined || ctx.issued_at <= revokedAt;
}

export function createRevocations(opts: { redisUrl: RedisTarget | null; prefix: string; l1: L1; metrics: AuthMetrics; log: Logger }) {
  const { l1, metrics, log } = opts;
  const users = new LRUCache<string, number>({ max: 10_000 });
  const sessions = new LRUCache<string, number>({ max: 10_000 });
  const keys = new LRUCache<string, number>({ max: 10_000 });
  const listeners = new Set<RevokeListener>();
  let sub: Redis | null = null;
  /** Changes seen so far, and the count when each owner last changed (`u:`/`o:`/`k:` + id). */
  let changeSeq = 0;
  const changedAt = new LRUCache<string, number>({ max: 10_000 });

  function applyChange(c: Change): void {
    changeSeq++;
    changedAt.set(`${c.kind === 'user' ? 'u' : c.kind === 'org' ? 'o' : 'k'}:${c.id}`, changeSeq);
    const evicted = l1.evictOwner(c.kind, c.id);
    metrics.changes.labels(c.kind).inc();
    log.debug('auth: change applied', { kind: c.kind, id: c.id, evicted });
  }

  /** True when a change for this context's user, org or key arrived after change number `seq`. */
  function changedSince(ctx: AuthContext, seq: number): boolean {
    if (seq === changeSeq) return false;
    const after = (tag: string) => (changedAt.get(tag) ?? 0) > seq;
    return after(`u:${ctx.user_id}`) || (ctx.org_id !== undefined && after(`o:${ctx.org_id}`)) || (ctx.key_id !== undefined && after(`k:${ctx.key_id}`));
  }

  function apply(r: Revocation): void {
    let evicted: number;
    if (r.kind === 'user') {
      users.set(r.id, Math.max(r.at, users.get(r.id) ?? -Infinity));
      evicted = l1.evict((c) => c.user_id === r.id && refusedByUserRevocation(c, r.at));
    } else if (r.kind === 'session') {
      sessions.set(r.id, r.at);
      evicted = l1.evict((c) => c.session_id === r.id);
    } else {
      keys.set(r.id, r.at);
      evicted = l1.evict((c) => c.key_id === r.id);
    }
    metrics.revocations.labels(r.kind).inc();
    log.info('auth: revocation applied', { kind: r.kind, id: r.id, evicted });
    for (const fn of listeners) {
      try {
        fn({ kind: r.kind, id: r.id });
      } catch (err) {
        log.error('auth: revocation listener failed', { err });
      }
    }
  }

  /** True when a revocation this process has seen refuses the context. */
  function locallyRevoked(ctx: AuthContext): boolean {
    if (ctx.key_id !== undefined && keys.has(ctx.key_id)) return true;
    if (ctx.session_id !== undefined && sessions.has(ctx.session_id)) return true;
    const at = users.get(ctx.user_id);
    return at !== undefined && refusedByUserRevocation(ctx, at);
  }

  /** Subscribe; resolves once the subscription is confirmed (or rejects if Redis is unreachable). */
  async function start(): Promise<void> {
    if (opts.redisUrl === null) return;
    const { channel, changes } = redisKeys(opts.prefix);
    // Offline queue on (SUBSCRIBE waits for the connection); ioredis re-subscribes after reconnects.
    sub = createRedis(opts.redisUrl, {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      connectionName: 'argus-auth-revocations',
    });
    sub.on('error', (err: Error) => log.debug('auth: revocation subscriber error', { err }));
    sub.on('message', (ch: string, msg: string) => {
      if (ch === changes) {
        const c = parseChange(msg);
        if (c === null) log.warn('auth: malformed change message ignored');
        else applyChange(c);
        return;
      }
      if (ch !== channel) return;
      const r = parseRevocation(msg);
      if (r === null) log.warn('auth: malformed revocation message ignored');
      else apply(r);
    });
    await sub.subscribe(channel, changes);
  }

  return {
    apply,
    applyChange,
    changedSince,
    /** The number of changes seen so far (taken when a verification starts). */
    changeSeq: () => changeSeq,
    locallyRevoked,
    start,
    subscribed: () => sub !== null && sub.status === 'ready',
    onRevoke(fn: RevokeListener): () => void {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async close(): Promise<void> {
      listeners.clear();
      if (sub !== null) await closeRedis(sub);
    },
  };
}

export type Revocations = ReturnType<typeof createRevocations>;
