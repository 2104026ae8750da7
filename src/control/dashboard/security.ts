/**
 * The dashboard's browser-facing protections:
 * - response headers on every page: a strict Content-Security-Policy (no
 *   script at all, style only from the one stylesheet), framing refused
 *   (`frame-ancestors 'none'` and `X-Frame-Options: DENY`), no caching, no referrer;
 * - the CSRF form token: HMAC of the session id, so it needs no storage and
 *   dies with the session; compared in constant time;
 * - the sign-in flow cookie: state, nonce and PKCE verifier between the
 *   redirect to the provider and its callback, HMAC-signed and short-lived.
 * Keys are derived from `auth.session.secret` with a label per use, so no key
 * signs two kinds of thing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

/** A key for one purpose, derived from the session secret. */
export function deriveKey(secret: string, label: string): Buffer {
  return createHmac('sha256', secret).update(`argus-dashboard:${label}`).digest();
}

/** Constant-time string equality (different lengths: false, still without early exit on content). */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

export function csrfToken(key: Buffer, sessionId: string): string {
  return createHmac('sha256', key).update(sessionId).digest('base64url');
}

export function csrfValid(key: Buffer, sessionId: string, given: unknown): boolean {
  return typeof given === 'string' && sameText(csrfToken(key, sessionId), given);
}

/** `value.mac`, the value base64url JSON; null when the MAC or the JSON is wrong. */
export function sealJson(key: Buffer, value: unknown): string {
  const body = Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

export function openJson(key: Buffer, sealed: string | undefined): Record<string, unknown> | null {
  if (sealed === undefined) return null;
  const dot = sealed.indexOf('.');
  if (dot <= 0) return null;
  const body = sealed.slice(0, dot);
  if (!sameText(createHmac('sha256', key).update(body).digest('base64url'), sealed.slice(dot + 1))) return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Security headers of every dashboard response. `formTargets`: origins a form
 * may post to or be redirected to after posting (Stripe's checkout and portal):
 * browsers apply `form-action` to the redirect as well (CSP Level 3 §6.3.1).
 */
export function securityHeaders(formTargets: readonly string[]): MiddlewareHandler {
  const csp = [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    `form-action 'self'${formTargets.map((o) => ` ${o}`).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return async function dashboardHeaders(c, next) {
    await next();
    c.header('Content-Security-Policy', csp);
    c.header('X-Frame-Options', 'DENY');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Cache-Control', 'no-store');
  };
}

export interface CookieOptions {
  path: string;
  maxAgeS: number;
}

/** A cookie for the dashboard: always HttpOnly, Secure, SameSite=Lax. Max-Age 0 clears it. */
export function setCookie(name: string, value: string, o: CookieOptions): string {
  return `${name}=${value}; Path=${o.path}; Max-Age=${o.maxAgeS}; HttpOnly; Secure; SameSite=Lax`;
}

/** The named cookie of a request's Cookie header (first one). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
