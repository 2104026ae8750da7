/**
 * The JWKS key store: the only place verification keys come from (never from a
 * token's `jku`/`x5u`/`jwk`/`x5c`).
 *
 * - Refreshed in the background once older than `refresh_ms`, one fetch at a time.
 * - An unknown `kid` triggers one refetch, single-flight, at most once per
 *   `refetch_cooldown_ms` (a flood of random kids costs one fetch per cooldown).
 * - When the endpoint fails, the last good key set keeps serving until it is
 *   `max_stale_ms` old; after that keys are "unavailable" (the route's
 *   `on_auth_unavailable` policy decides), never silently accepted.
 * - A `kid` listed more than once among the signing keys is ambiguous: tokens
 *   naming it are refused (`ambiguous_kid`), the other kids keep working, and each
 *   fetch that carries one logs it once and counts it
 *   (`argus_jwks_duplicate_kids_total`). Letting the last (or first) entry win would
 *   let whoever can append a key to the set mint tokens under a trusted kid.
 * Times come from the injected clock.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import type { Logger } from '../observe/log.js';
import type { JwtConfig } from './schema.js';
import { importPublicJwk } from './jwt-verify.js';
import type { AuthMetrics } from './metrics.js';

const MAX_JWKS_BYTES = 1 << 20;
const KTYS = new Set(['RSA', 'EC', 'OKP']);

export interface ResolvedKey {
  readonly jwk: JWK;
  /** kid + digest of the key material: changes when a kid is reused for a new key. */
  readonly keyId: string;
  readonly key: Awaited<ReturnType<typeof importPublicJwk>>;
}

export type KeyLookup = ResolvedKey | 'unknown_kid' | 'ambiguous_kid' | 'bad_key' | 'unavailable';

export interface JwksStore {
  getKey(kid: string, alg: string): Promise<KeyLookup>;
  /** Fetch now (single-flight). Resolves true when a key set was loaded. */
  refresh(): Promise<boolean>;
  /** A key set is loaded and not older than max_stale_ms. */
  usable(): boolean;
  /** What /readyz reports about the key set (docs/operations.md, "Admin port"). */
  status(): JwksStatus;
  close(): void;
}

/**
 * `never_fetched`: no key set was ever loaded (e.g. an unreachable or placeholder
 * jwks_url: a configuration or network problem, not an outage); `fresh`: loaded
 * within refresh_ms; `stale`: refreshes failing, the last good set still served
 * (up to max_stale_ms); `expired`: the last good set is older than max_stale_ms
 * (down). Only `fresh` and `stale` are ready.
 */
export interface JwksStatus {
  readonly state: 'never_fetched' | 'fresh' | 'stale' | 'expired';
  readonly source: string;
  /** Seconds since the last good key set, absent when never fetched. */
  readonly age_s?: number;
  /** Failed fetches since the last good one. */
  readonly failures: number;
  readonly last_error?: string;
}

interface KeySet {
  readonly byKid: Map<string, { jwk: JWK; keyId: string; imported: Map<string, ResolvedKey['key']> }>;
  /** Kids listed more than once: never resolved. */
  readonly ambiguous: ReadonlySet<string>;
  readonly fetchedAt: number;
}

export function createJwksStore(cfg: JwtConfig, deps: { now: () => number; log: Logger; metrics: AuthMetrics }): JwksStore {
  const { now, log, metrics } = deps;
  let set: KeySet | null = null;
  let inflight: Promise<boolean> | null = null;
  let lastFailureAt = -Infinity;
  let lastUnknownKidFetch = -Infinity;
  let failuresSinceGood = 0;
  let lastError: string | undefined;
  let closed = false;

  const unregisterAge = metrics.addJwksAgeSource(() => (set === null ? -1 : (now() - set.fetchedAt) / 1000));
  // Also retries after a failed first load (set === null), at most once per cooldown.
  const timer = setInterval(
    () => {
      if ((set === null || now() - set.fetchedAt >= cfg.refresh_ms) && now() - lastFailureAt >= cfg.refetch_cooldown_ms) void refresh();
    },
    Math.max(1000, Math.min(cfg.refresh_ms, cfg.refetch_cooldown_ms || 30_000, 30_000)),
  );
  timer.unref();

  async function load(): Promise<unknown> {
    if (cfg.jwks_file !== undefined) return JSON.parse(await readFile(cfg.jwks_file, 'utf8'));
    const res = await fetch(cfg.jwks_url as string, {
      signal: AbortSignal.timeout(cfg.fetch_timeout_ms),
      headers: { accept: 'application/json' },
      redirect: 'error',
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`JWKS endpoint answered ${res.status}`);
    }
    const text = await res.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS document too large');
    return JSON.parse(text);
  }

  function parse(doc: unknown): Pick<KeySet, 'byKid' | 'ambiguous'> {
    const keys = (doc as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new Error('JWKS document has no "keys" array');
    const byKid: KeySet['byKid'] = new Map();
    const ambiguous = new Set<string>();
    for (const k of keys as JWK[]) {
      if (k === null || typeof k !== 'object' || typeof k.kid !== 'string' || !KTYS.has(k.kty as string)) continue;
      if (k.use !== undefined && k.use !== 'sig') continue;
      const digest = createHash('sha256')
        .update(JSON.stringify([k.kty, k.n, k.e, k.crv, k.x, k.y]))
        .digest('base64url')
        .slice(0, 16);
      if (byKid.has(k.kid) || ambiguous.has(k.kid)) {
        ambiguous.add(k.kid);
        byKid.delete(k.kid);
        continue;
      }
      byKid.set(k.kid, { jwk: k, keyId: `${k.kid}#${digest}`, imported: new Map() });
    }
    // An empty set would lock everyone out; keep the last good one instead.
    if (byKid.size === 0) throw new Error(`JWKS document has no usable signing keys${ambiguous.size > 0 ? ' (every kid is listed more than once)' : ''}`);
    return { byKid, ambiguous };
  }

  function refresh(): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    if (inflight) return inflight;
    inflight = (async () => {
      try {
        const { byKid, ambiguous } = parse(await load());
        set = { byKid, ambiguous, fetchedAt: now() };
        failuresSinceGood = 0;
        lastError = undefined;
        if (ambiguous.size > 0) {
          metrics.jwksDuplicateKids.inc(ambiguous.size);
          log.warn('jwks: a kid is listed more than once; tokens naming it are refused', { kids: [...ambiguous].map((k) => k.slice(0, 64)) });
        }
        return true;
      } catch (err) {
        lastFailureAt = now();
        failuresSinceGood++;
        lastError = errorText(err);
        metrics.jwksFetchFailures.inc();
        log.warn('jwks: fetch failed, keeping the last good key set', { err, age_s: set === null ? null : (now() - set.fetchedAt) / 1000 });
        return false;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  const usable = () => set !== null && now() - set.fetchedAt <= cfg.max_stale_ms;

  async function getKey(kid: string, alg: string): Promise<KeyLookup> {
    if (!usable()) {
      // Too old to trust: one refetch (shared), but not more than once per cooldown after a failure.
      if (inflight || now() - lastFailureAt >= cfg.refetch_cooldown_ms) await refresh();
      if (!usable()) return 'unavailable';
    } else if (now() - (set as KeySet).fetchedAt >= cfg.refresh_ms && now() - lastFailureAt >= cfg.refetch_cooldown_ms) {
      void refresh(); // due: refresh in the background, keep serving the current set
    }
    let entry = (set as KeySet).byKid.get(kid);
    if (entry === undefined && (set as KeySet).ambiguous.has(kid)) return 'ambiguous_kid';
    if (entry === undefined) {
      if (inflight) await inflight;
      else if (now() - lastUnknownKidFetch >= cfg.refetch_cooldown_ms) {
        lastUnknownKidFetch = now();
        await refresh();
      }
      if (!usable()) return 'unavailable';
      entry = (set as KeySet).byKid.get(kid);
      if (entry === undefined) return (set as KeySet).ambiguous.has(kid) ? 'ambiguous_kid' : 'unknown_kid';
    }
    if (entry.jwk.alg !== undefined && entry.jwk.alg !== alg) return 'bad_key';
    let key = entry.imported.get(alg);
    if (key === undefined) {
      try {
        key = await importPublicJwk(entry.jwk, alg);
      } catch {
        return 'bad_key'; // e.g. an RSA key named by an ES256 token
      }
      entry.imported.set(alg, key);
    }
    return { jwk: entry.jwk, keyId: entry.keyId, key };
  }

  function status(): JwksStatus {
    const base = {
      source: cfg.jwks_url ?? `file:${cfg.jwks_file ?? ''}`,
      failures: failuresSinceGood,
      ...(lastError !== undefined ? { last_error: lastError } : {}),
    };
    if (set === null) return { state: 'never_fetched', ...base };
    const age = now() - set.fetchedAt;
    const state = age > cfg.max_stale_ms ? 'expired' : age >= cfg.refresh_ms || failuresSinceGood > 0 ? 'stale' : 'fresh';
    return { state, age_s: Math.round(age / 1000), ...base };
  }

  return {
    getKey,
    refresh,
    usable,
    status,
    close: () => {
      closed = true;
      clearInterval(timer);
      unregisterAge();
    },
  };
}

/** A fetch error in one line (undici hides the reason in `cause`). */
function errorText(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return String(e?.message ?? err) + (cause ? ` (${cause})` : '');
}
