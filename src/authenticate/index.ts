/**
 * Authentication stage: request head + route → AuthOutcome.
 *
 * Hot path: one header scan, one L1 lookup keyed by the raw credential, a
 * synchronous return. Cold path (L1 miss or stale entry): per-client failure
 * window → single-flight per credential → capped queue → verify (JWT via JWKS,
 * API key via digest lookup, session via HMAC) → Redis user record and deny
 * state → L1. When Redis or the JWKS cannot answer, the route's
 * `on_auth_unavailable` decides: `open` serves a cached positive decision no
 * older than `auth.cache.max_stale_ms` (outcome `stale: true`), `closed` (and every
 * route of a fail-closed extension) answers 503. A new credential is never accepted unverified.
 *
 * Fail-closed routes do not wait for a miss to find Redis gone: while the shared
 * connection is down (clients/redis-health.ts) they answer 503 at once, even for a
 * credential whose decision is cached.
 *
 * A Redis that lost its data (no complete projection epoch, projection.ts) is not
 * an authority on absence: a credential it does not know gets 503
 * ARGUS_DEPENDENCY_UNAVAILABLE with Retry-After, never 401. Open routes may still
 * serve a cached decision once the deny state is back and does not refuse it.
 */
import { once } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { RedisConfig } from '../clients/redis-schema.js';
import type { TiersConfig } from '../ratelimit/schema.js';
import type { RouteConfig } from '../request/route.js';
import type { AuthConfig } from './schema.js';
import type { Denial } from '../errors.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { RequestHead } from '../request/head.js';
import { closeRedis, createRedis, type Redis, type RedisTarget } from '../clients/redis.js';
import { redisHealth } from '../clients/redis-health.js';
import { failsClosed } from '../routes.js';
import { API_KEY_PATTERN, hashApiKey, keyContext, loadKeyFile } from './api-keys.js';
import { createL1 } from './cache.js';
import { createContextBuilder } from './claims.js';
import { createColdGate, createFailureWindow } from './cold-gate.js';
import type { AuthContext } from '../request/principal.js';
import { createExtractor, type Credential } from './credentials.js';
import { DENIED, throttled } from './denials.js';
import { createJwksStore, type JwksStatus } from './jwks.js';
import { createJwtVerifier } from './jwt.js';
import { createAuthMetrics } from './metrics.js';
import { createRevocations, refusedByUserRevocation, type RevokeListener } from './revocation.js';
import { createSessionVerifier } from './session.js';
import type { EpochState } from './projection.js';
import type { AuthOutcome } from '../request/outcome.js';
import type { AuthStage } from '../request/stages.js';
import { createAuthStore, StoreUnavailable, type RevocationKind, type SubjectState } from './store.js';

export type { AuthContext } from '../request/principal.js';
export { generateApiKey, hashApiKey } from './api-keys.js';
export { signSession } from './session.js';

export type { AuthOutcome } from '../request/outcome.js';

/**
 * A live session's re-check: still valid as it is (`ok`), `expired`, `revoked`,
 * `unavailable`, or valid with a changed context (its owner's record changed:
 * tier, features, or an extension's entitlements).
 */
export type Revalidation = 'ok' | 'expired' | 'revoked' | 'unavailable' | { readonly changed: AuthContext };

export interface Authenticator extends AuthStage {
  /** Fast path: synchronous on an L1 hit, a Promise on a miss. Never throws for bad credentials. */
  authenticate(head: RequestHead, route: RouteConfig): AuthOutcome | Promise<AuthOutcome>;
  /** Re-check a live session's credential and re-read its owner's record (WebSocket heartbeats): never throws. */
  revalidate(ctx: AuthContext): Promise<Revalidation>;
  /** Revocations from Redis pub/sub (or {@link applyRevocation}); returns an unsubscribe function. */
  onRevoke(listener: RevokeListener): () => void;
  /** Apply a revocation in this process only (standalone admin use); Redis-backed sidecars get them by pub/sub. */
  applyRevocation(r: { kind: RevocationKind; id: string; at?: number }): void;
  /** Which of these features the user has: Redis user record, else cached contexts / key file. Rejects when Redis is down. */
  features(userId: string, features: string[]): Promise<Record<string, boolean>>;
  /** JWKS loaded and fresh enough (if configured) and Redis connected (if configured). */
  readonly ready: () => boolean;
  /** The JWKS key set's state for /readyz (null: no `auth.jwt`). */
  readonly jwksStatus: () => JwksStatus | null;
  /** Idempotent: the second call returns the first call's promise. */
  close(): Promise<void>;
}

export interface AuthenticatorDeps {
  /** A request-path Redis connection to share; else one is opened from redisUrl / cfg.redis (url or cluster). */
  readonly redis?: Redis;
  readonly redisUrl?: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Clock in ms (default Date.now): token exp, cache TTLs, JWKS age. */
  readonly now?: () => number;
}

type Verdict =
  /** `seq`: the change count when the verification started (revocation.ts changedSince). */
  | { readonly kind: 'ok'; readonly ctx: AuthContext; seq?: number }
  | { readonly kind: 'denied'; readonly denial: Denial }
  | { readonly kind: 'unavailable' | 'overloaded' }
  /** Redis answered but lost its projection; `denyReady`: its deny state is back. */
  | { readonly kind: 'projecting'; readonly denyReady: boolean };

const ANONYMOUS: AuthOutcome = Object.freeze({ ok: true, ctx: null });
const MISSING: AuthOutcome = Object.freeze({ ok: false, denial: DENIED.missing });
const UNAVAILABLE: Verdict = Object.freeze({ kind: 'unavailable' });
const OVERLOADED: Verdict = Object.freeze({ kind: 'overloaded' });
const denied = (denial: Denial): Verdict => ({ kind: 'denied', denial });
const PROJECTING: Verdict = Object.freeze({ kind: 'projecting', denyReady: false });
const DENY_READY: Verdict = Object.freeze({ kind: 'projecting', denyReady: true });
const AUTH_UNAVAILABLE: AuthOutcome = Object.freeze({ ok: false, denial: DENIED.unavailable });

const revokedBy = (ctx: AuthContext, s: SubjectState): boolean => s.sessionRevoked || s.keyRevoked || refusedByUserRevocation(ctx, s.userRevokedAt);

/**
 * Build the authenticator: loads the key file (UsageError when malformed), makes a
 * first JWKS fetch and subscribes to revocations (each waits at most ~2 s; failures
 * are logged and retried in the background, `ready()` tells).
 */
/** `cfg`: its slice: `auth`, `tiers`, and `redis` when configured. */
export async function createAuthenticator(
  cfg: { readonly auth: AuthConfig; readonly tiers: TiersConfig; readonly redis?: RedisConfig | undefined },
  deps: AuthenticatorDeps,
): Promise<Authenticator> {
  const auth = cfg.auth;
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ stage: 'auth' });
  const metrics = createAuthMetrics(deps.metrics);
  const l1 = createL1({
    maxEntries: auth.cache.max_entries,
    ttlMs: auth.cache.ttl_ms,
    negativeTtlMs: auth.cache.negative_ttl_ms,
    maxStaleMs: auth.cache.max_stale_ms,
  });
  const extract = createExtractor(auth);
  const build = createContextBuilder({ tiers: cfg.tiers, defaultTier: auth.default_tier, claims: auth.jwt?.claims });
  const redisUrl: RedisTarget | null = deps.redisUrl ?? cfg.redis ?? null;
  const prefix = cfg.redis?.key_prefix ?? 'argus:';
  const ownRedis = deps.redis === undefined && redisUrl !== null;
  const redis = deps.redis ?? (redisUrl !== null ? createRedis(redisUrl, { connectionName: 'argus-auth' }) : null);
  if (ownRedis) redis?.on('error', (err: Error) => log.debug('auth: redis error', { err }));
  const health = redis !== null ? redisHealth(redis) : null;
  const fileKeys = auth.api_keys.file !== undefined ? loadKeyFile(auth.api_keys.file) : null;
  const store = createAuthStore({ redis, prefix, fileKeys, requireProjection: cfg.redis?.require_projection === true });
  const jwks = auth.jwt !== undefined ? createJwksStore(auth.jwt, { now, log, metrics }) : null;
  const jwt = auth.jwt !== undefined && jwks !== null ? createJwtVerifier(auth.jwt, { jwks, now, log }) : null;
  const verifySession =
    auth.session !== undefined
      ? createSessionVerifier({
          secrets: [auth.session.secret, ...(auth.session.previous_secret !== undefined ? [auth.session.previous_secret] : [])],
          maxAgeS: auth.session.max_age_s,
          leewayS: auth.jwt?.leeway_s ?? 30,
        })
      : null;
  const revocations = createRevocations({ redisUrl, prefix, l1, metrics, log });
  const gate = createColdGate({ maxConcurrent: auth.cold.max_concurrent, maxQueue: auth.cold.max_queue });
  const failures = createFailureWindow({ perMinute: auth.cold.client_failures_per_minute, now });
  const inflight = new Map<string, Promise<Verdict>>();
  /** A verified context → the one it was built from before the owner's record was applied (heartbeats rebuild it). */
  const bases = new WeakMap<AuthContext, AuthContext>();
  let projectionLost = false;
  /** Track the projection; on losing it, every cached decision is re-checked before it is served again. */
  function sawProjection(state: EpochState): Verdict | null {
    if (state === 'complete') {
      if (projectionLost) log.info('auth: Redis projection complete again');
      projectionLost = false;
      return null;
    }
    if (!projectionLost) {
      projectionLost = true;
      const n = l1.expireFresh(now());
      log.warn('auth: Redis lost its projection (epoch missing or incomplete): uncached credentials get 503 until it is restored', {
        state,
        cached_rechecked: n,
      });
    }
    return state === 'deny-ready' ? DENY_READY : PROJECTING;
  }

  await Promise.all([
    ownRedis && redis !== null && redis.status !== 'ready'
      ? withTimeout(once(redis, 'ready'), 2000).catch(() => log.warn('auth: Redis not connected yet'))
      : undefined,
    jwks?.refresh().then((ok) => ok || log.warn('auth: JWKS not loaded at startup; retrying in the background')),
    withTimeout(revocations.start(), 2000).catch((err: unknown) => log.warn('auth: revocation subscription not confirmed yet', { err })),
  ]);

  function authenticate(head: RequestHead, route: RouteConfig): AuthOutcome | Promise<AuthOutcome> {
    if (route.auth === 'none') return ANONYMOUS;
    const cred = extract(head, route.websocket);
    if (cred === null) return route.auth === 'optional' ? ANONYMOUS : MISSING;
    if ('code' in cred) {
      metrics.decision('none', 'denied').n++;
      return { ok: false, denial: cred };
    }
    // Fail-closed routes: Redis gone means 503 now, cached decision or not.
    if (health !== null && failsClosed(route) && !health.up()) {
      metrics.decision(cred.kind, 'unavailable').n++;
      return AUTH_UNAVAILABLE;
    }
    const t = now();
    const e = l1.get(cred.kind, cred.value, t);
    if (e !== undefined && t < e.freshUntil) {
      metrics.l1Hit.n++;
      if (e.hit !== null) {
        metrics.decision(cred.kind, 'ok').n++;
        return e.hit;
      }
      metrics.decision(cred.kind, 'denied').n++;
      return { ok: false, denial: e.denial ?? DENIED.invalidToken };
    }
    metrics.l1Miss.n++;
    return cold(cred, head, route);
  }

  async function cold(cred: Credential, head: RequestHead, route: RouteConfig): Promise<AuthOutcome> {
    const started = performance.now();
    const wait = failures.blockedFor(head.remoteAddress);
    if (wait > 0) {
      metrics.decision(cred.kind, 'denied').n++;
      return { ok: false, denial: throttled(wait) };
    }
    const flightKey = cred.kind + ':' + cred.value;
    let p = inflight.get(flightKey);
    if (p === undefined) {
      const run = gate.tryRun(() => verifyCold(cred));
      if (run === null) return finish(OVERLOADED, cred, head, route);
      p = run;
      inflight.set(flightKey, p);
      void p.finally(() => inflight.delete(flightKey));
    }
    const v = await p;
    metrics.totalDuration.observe((performance.now() - started) / 1000);
    if (v.kind === 'projecting') return whileProjecting(v.denyReady, cred, head, route);
    return finish(v, cred, head, route);
  }

  function finish(v: Verdict, cred: Credential, head: RequestHead, route: RouteConfig): AuthOutcome {
    if (v.kind === 'ok') {
      // A revocation may have arrived while we were verifying: never put it back into L1.
      if (revocations.locallyRevoked(v.ctx)) return finish(denied(DENIED.revoked), cred, head, route);
      // A change arrived while we were verifying: the records read may be the old ones; answer, but do not cache.
      if (v.seq === undefined || !revocations.changedSince(v.ctx, v.seq)) l1.putPositive(cred.kind, cred.value, v.ctx, now());
      metrics.decision(cred.kind, 'ok').n++;
      return { ok: true, ctx: v.ctx };
    }
    if (v.kind === 'denied') {
      l1.putNegative(cred.kind, cred.value, v.denial, now());
      failures.recordFailure(head.remoteAddress);
      metrics.decision(cred.kind, 'denied').n++;
      return { ok: false, denial: v.denial };
    }
    if (!failsClosed(route) && v.kind === 'unavailable') {
      const t = now();
      const e = l1.get(cred.kind, cred.value, t);
      if (e !== undefined && e.ctx !== null && t < e.staleUntil && !revocations.locallyRevoked(e.ctx)) {
        metrics.failOpen.labels(route.path).inc();
        metrics.decision(cred.kind, 'stale').n++;
        log.debug('auth: serving a stale decision (fail-open)', { route: route.path, user_id: e.ctx.user_id });
        return { ok: true, ctx: e.ctx, stale: true };
      }
    }
    metrics.decision(cred.kind, 'unavailable').n++;
    return { ok: false, denial: v.kind === 'overloaded' ? DENIED.overloaded : DENIED.unavailable };
  }

  /**
   * Redis is up but lost its projection: 503 with Retry-After, except that an open
   * route may serve this credential's cached decision once the deny state is back
   * and does not refuse it (a revoked credential is refused, cached or not).
   */
  async function whileProjecting(denyReady: boolean, cred: Credential, head: RequestHead, route: RouteConfig): Promise<AuthOutcome> {
    const t = now();
    const e = l1.get(cred.kind, cred.value, t);
    const ctx = e?.ctx ?? null;
    if (denyReady && ctx !== null && !failsClosed(route) && t < (e?.staleUntil ?? 0) && !revocations.locallyRevoked(ctx)) {
      try {
        const s = await store.subject(ctx.user_id, ctx.session_id, ctx.key_id);
        if (revokedBy(ctx, s)) return finish(denied(DENIED.revoked), cred, head, route);
        if (s.projection !== 'missing') {
          metrics.failOpen.labels(route.path).inc();
          metrics.decision(cred.kind, 'stale').n++;
          return { ok: true, ctx, stale: true };
        }
      } catch (err) {
        if (!(err instanceof StoreUnavailable)) log.error('auth: deny-state check failed', { err });
      }
    }
    metrics.decision(cred.kind, 'unavailable').n++;
    return { ok: false, denial: DENIED.projecting };
  }

  async function verifyCold(cred: Credential): Promise<Verdict> {
    const started = performance.now();
    const seq = revocations.changeSeq();
    try {
      const v = cred.kind === 'jwt' ? await coldJwt(cred.value) : cred.kind === 'api_key' ? await coldKey(cred.value) : await coldSession(cred.value);
      if (v.kind === 'ok') v.seq = seq;
      return v;
    } catch (err) {
      if (!(err instanceof StoreUnavailable)) log.error('auth: cold verification failed', { err, method: cred.kind });
      else health?.failed((err as StoreUnavailable).cause);
      return UNAVAILABLE;
    } finally {
      metrics.coldDuration.observe((performance.now() - started) / 1000);
    }
  }

  async function coldJwt(token: string): Promise<Verdict> {
    if (jwt === null) return denied(DENIED.invalidToken);
    const v = await jwt.verify(token);
    if (v === 'unavailable') return UNAVAILABLE;
    if (!v.ok) return denied(v.denial);
    const base = build.fromJwt(v.payload as Record<string, unknown>);
    return base === null ? denied(DENIED.invalidToken) : checkSubject(base, true);
  }

  async function coldKey(key: string): Promise<Verdict> {
    if (!API_KEY_PATTERN.test(key)) return denied(DENIED.invalidKey);
    const { rec, projection } = await store.findKey(hashApiKey(key));
    (rec === null ? metrics.l2Miss : metrics.l2Hit).n++;
    if (rec !== null && rec.status !== 'active') return denied(DENIED.revoked);
    // An unknown key is unknown only when Redis still holds the projection.
    const lost = sawProjection(projection);
    if (lost !== null) return lost;
    if (rec === null) return denied(DENIED.invalidKey);
    return checkSubject(keyContext(rec, build.tierOf(rec.tier)), false);
  }

  async function coldSession(value: string): Promise<Verdict> {
    if (verifySession === null) return denied(DENIED.invalidSession);
    const v = verifySession(value, now());
    if (!v.ok) return denied(v.expired ? DENIED.expiredSession : DENIED.invalidSession);
    const base = build.fromSession(v.payload);
    return base === null ? denied(DENIED.invalidSession) : checkSubject(base, true);
  }

  /**
   * Deny state and the owner's record from L2, in one round trip: the user's record
   * for user credentials (`enrich`), the user's or the org's for an API key.
   */
  async function checkSubject(base: AuthContext, enrich: boolean): Promise<Verdict> {
    const s = await store.subject(base.user_id, base.session_id, base.key_id, base.org_id);
    if (revokedBy(base, s)) return denied(DENIED.revoked);
    // No user record may mean "lost with Redis": do not fall back to the token's claims.
    const lost = sawProjection(s.projection);
    if (lost !== null) return lost;
    if (enrich && redis !== null) (s.user === null ? metrics.l2Miss : metrics.l2Hit).n++;
    const ctx = withRecord(base, s);
    if (ctx !== base) bases.set(ctx, base);
    return { kind: 'ok', ctx };
  }

  /** The context under its owner's current record (an API key's owner is its org when it has one). */
  function withRecord(base: AuthContext, s: SubjectState): AuthContext {
    if (base.method !== 'api_key') return build.withUser(base, s.user);
    return build.withOwner(base, base.org_id !== undefined ? s.org : s.user);
  }

  async function revalidate(ctx: AuthContext): Promise<Revalidation> {
    if (ctx.expires_at !== undefined && ctx.expires_at * 1000 <= now()) return 'expired';
    if (revocations.locallyRevoked(ctx)) return 'revoked';
    try {
      const base = bases.get(ctx) ?? ctx;
      const s = await store.subject(ctx.user_id, ctx.session_id, ctx.key_id, ctx.org_id);
      if (revokedBy(ctx, s)) return 'revoked';
      if (s.projection !== 'complete') return 'unavailable';
      const next = withRecord(base, s);
      if (next === ctx || isDeepStrictEqual(next, ctx)) return 'ok';
      if (next !== base) bases.set(next, base);
      return { changed: next };
    } catch {
      return 'unavailable';
    }
  }

  async function features(userId: string, wanted: string[]): Promise<Record<string, boolean>> {
    let have: readonly string[] | undefined;
    if (redis !== null) {
      const s = await store.subject(userId);
      if (s.projection !== 'complete') throw new StoreUnavailable('redis: the projection is being restored');
      have = s.user?.features;
    }
    if (have === undefined) {
      const s = new Set<string>();
      for (const c of l1.contextsOf(userId)) for (const f of c.features) s.add(f);
      for (const r of fileKeys?.values() ?? []) if (r.user_id === userId && r.status === 'active') for (const f of r.features) s.add(f);
      have = [...s];
    }
    const out: Record<string, boolean> = {};
    for (const f of wanted) out[f] = have.includes(f);
    return out;
  }

  let closing: Promise<void> | null = null;
  return {
    authenticate,
    revalidate,
    features,
    onRevoke: revocations.onRevoke,
    applyRevocation: (r) => revocations.apply({ kind: r.kind, id: r.id, at: r.at ?? now() / 1000 }),
    ready: () => (jwks === null || jwks.usable()) && (redis === null || redis.status === 'ready'),
    jwksStatus: () => jwks?.status() ?? null,
    close(): Promise<void> {
      closing ??= (async () => {
        jwks?.close();
        await Promise.allSettled([jwt?.close(), revocations.close(), ownRedis && redis !== null ? closeRedis(redis) : undefined]);
        l1.clear();
      })();
      return closing;
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
