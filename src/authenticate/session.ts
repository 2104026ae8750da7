/**
 * The CDN edge's signed session header (docs/contract.md, "Session header"):
 * `base64url(JSON payload) "." base64url(HMAC-SHA256(secret, first part))`,
 * payload `{ "sub", "sid", "exp", "tier"?, "iat"? }`.
 *
 * The MAC is compared in constant time against the current and (during rotation)
 * the previous secret. `exp` is required; a session may not live longer than
 * `max_age_s` (from `iat` when present, else `exp` may be at most max_age_s ahead).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SessionPayload {
  readonly sub: string;
  readonly sid: string;
  readonly exp: number;
  readonly iat?: number;
  readonly tier?: string;
}

export type SessionVerdict = { readonly ok: true; readonly payload: SessionPayload } | { readonly ok: false; readonly expired: boolean };

const B64URL = /^[A-Za-z0-9_-]+$/;
const BAD = Object.freeze({ ok: false, expired: false } as const);
const EXPIRED = Object.freeze({ ok: false, expired: true } as const);

/** Sign a session header value (the edge's job; used by tests, the demo and tooling). */
export function signSession(payload: SessionPayload, secret: string): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

export function createSessionVerifier(opts: { secrets: readonly string[]; maxAgeS: number; leewayS: number }) {
  const secrets = opts.secrets.map((s) => Buffer.from(s));

  function verifySession(value: string, nowMs: number): SessionVerdict {
    const dot = value.indexOf('.');
    if (dot <= 0 || dot !== value.lastIndexOf('.')) return BAD;
    const body = value.slice(0, dot);
    const mac = value.slice(dot + 1);
    if (!B64URL.test(body) || !B64URL.test(mac)) return BAD;
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== 32) return BAD;
    let match = false;
    for (const s of secrets) {
      const expected = createHmac('sha256', s).update(body).digest();
      // Check every secret: how many secrets match must not show in the timing.
      if (timingSafeEqual(expected, given)) match = true;
    }
    if (!match) return BAD;
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return BAD;
    }
    if (p === null || typeof p !== 'object' || Array.isArray(p)) return BAD;
    const { sub, sid, exp, iat, tier } = p;
    if (typeof sub !== 'string' || sub.length === 0 || typeof sid !== 'string' || sid.length === 0) return BAD;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return BAD;
    if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) return BAD;
    if (tier !== undefined && typeof tier !== 'string') return BAD;
    const now = nowMs / 1000;
    if (exp <= now - opts.leewayS) return EXPIRED;
    if (iat !== undefined) {
      if (iat > now + opts.leewayS) return BAD;
      if (now - iat > opts.maxAgeS + opts.leewayS) return EXPIRED;
    }
    if (exp - now > opts.maxAgeS + opts.leewayS) return BAD; // longer-lived than any session may be
    return { ok: true, payload: { sub, sid, exp, ...(iat !== undefined && { iat }), ...(tier !== undefined && { tier }) } };
  }

  return verifySession;
}
