/**
 * JWT verification: cheap structural checks on the event loop, the key from the
 * JWKS store only, then signature + claims inline or on a piscina pool
 * (`auth.jwt.verify_threads`).
 *
 * Refused before any crypto: not exactly three base64url segments (JWE, truncated,
 * extra segments), a header that is not a JSON object, an algorithm outside the
 * allowlist (so `none` and every HMAC algorithm), a `jku`/`x5u`/`jwk`/`x5c` header
 * (keys never come from the token), any `crit` or `b64` header (no extensions
 * are understood, RFC 7515 §4.1.11), a missing `kid`.
 */
import { Piscina } from 'piscina';
import type { JWTPayload } from 'jose';
import type { Denial } from '../errors.js';
import type { Logger } from '../observe/log.js';
import { DENIED } from './denials.js';
import type { JwksStore } from './jwks.js';
import { verifyWithKey, type ClaimOptions, type RefusalReason, type VerifyVerdict } from './jwt-verify.js';
import type { JwtConfig } from './schema.js';
import type { VerifyTask } from './verify-task.js';

export type JwtVerdict = { readonly ok: true; readonly payload: JWTPayload } | { readonly ok: false; readonly denial: Denial } | 'unavailable';

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c', 'crit', 'b64'];

const REFUSALS: Readonly<Record<RefusalReason, Denial | undefined>> = {
  time_claim: DENIED.badTimeClaim,
  iat_missing: DENIED.missingIat,
  lifetime: DENIED.lifetimeTooLong,
  token_age: DENIED.tooOld,
};

/**
 * With max_token_age_s a token stops being acceptable at iat + max age: that is its
 * expiry as far as the decision cache and WebSocket heartbeats (4401) are concerned.
 */
function ageBounded(payload: JWTPayload, maxAgeS: number): JWTPayload {
  const until = (payload.iat as number) + maxAgeS;
  return payload.exp !== undefined && payload.exp <= until ? payload : { ...payload, exp: until };
}

export function createJwtVerifier(cfg: JwtConfig, deps: { jwks: JwksStore; now: () => number; log: Logger }) {
  const { jwks, now, log } = deps;
  const allowed = new Set<string>(cfg.algorithms);
  const claimOpts: ClaimOptions = {
    ...(cfg.issuer !== undefined && { issuer: cfg.issuer }),
    ...(cfg.audience !== undefined && { audience: cfg.audience }),
    leewayS: cfg.leeway_s,
    ...(cfg.token_use !== undefined && { tokenUse: cfg.token_use }),
    ...(cfg.client_id !== undefined && { clientIds: Array.isArray(cfg.client_id) ? cfg.client_id : [cfg.client_id] }),
    ...(cfg.max_lifetime_s !== undefined && { maxLifetimeS: cfg.max_lifetime_s }),
    ...(cfg.max_token_age_s !== undefined && { maxTokenAgeS: cfg.max_token_age_s }),
  };
  const pool =
    cfg.verify_threads > 0
      ? new Piscina({ filename: new URL('./verify-task.js', import.meta.url).href, minThreads: 1, maxThreads: cfg.verify_threads, idleTimeout: 30_000 })
      : null;

  /** The header's alg and kid, or a denial. */
  function inspect(token: string): { alg: string; kid: string } | Denial {
    const parts = token.split('.');
    if (parts.length !== 3) return DENIED.malformedToken;
    const [h, p, s] = parts as [string, string, string];
    if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) return DENIED.malformedToken;
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    } catch {
      return DENIED.malformedToken;
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) return DENIED.malformedToken;
    const { alg, kid } = header as Record<string, unknown>;
    if (typeof alg !== 'string' || !allowed.has(alg)) return DENIED.invalidToken;
    for (const name of FORBIDDEN_HEADERS) if (name in header) return DENIED.invalidToken;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) return DENIED.invalidToken;
    return { alg, kid };
  }

  async function verify(token: string): Promise<JwtVerdict> {
    const head = inspect(token);
    if ('code' in head) return { ok: false, denial: head };
    const found = await jwks.getKey(head.kid, head.alg);
    if (found === 'unavailable') return 'unavailable';
    if (found === 'ambiguous_kid') return { ok: false, denial: DENIED.ambiguousKey };
    if (typeof found === 'string') return { ok: false, denial: DENIED.invalidToken };
    let verdict: VerifyVerdict;
    if (pool === null) {
      verdict = await verifyWithKey(token, found.key, head.alg, claimOpts, now());
    } else {
      const task: VerifyTask = { token, jwk: found.jwk, keyId: found.keyId, alg: head.alg, opts: claimOpts, nowMs: now() };
      try {
        verdict = (await pool.run(task)) as VerifyVerdict;
      } catch (err) {
        log.error('auth: verify pool failed', { err });
        return 'unavailable';
      }
    }
    if (verdict.ok)
      return claimOpts.maxTokenAgeS === undefined ? verdict : { ok: true, payload: ageBounded(verdict.payload, claimOpts.maxTokenAgeS + claimOpts.leewayS) };
    return { ok: false, denial: verdict.expired ? DENIED.expiredToken : (REFUSALS[verdict.reason] ?? DENIED.invalidToken) };
  }

  return {
    verify,
    async close(): Promise<void> {
      if (pool !== null) await pool.destroy();
    },
  };
}
