/**
 * The signed-in session: the sidecar's own signed session (createSession, the
 * `POST /v1/sessions` service) in the `auth.session.cookie` cookie, HttpOnly,
 * Secure, SameSite=Lax. Reading it goes through the sidecar's authenticator,
 * the same code that admits the cookie at a proxy, so a revoked session
 * (`revoke --session`, sign-out) or a revoked user is refused here as there.
 */
import { randomBytes } from 'node:crypto';
import type { Authenticator } from '../../authenticate/index.js';
import type { AuthContext } from '../../request/principal.js';
import { API_ROUTE, createSession } from '../services/auth.js';
import { actorOf, type Actor } from '../services/actor.js';
import type { ServiceDeps } from '../services/deps.js';
import { revoke } from '../services/revocations.js';
import type { Result } from '../services/result.js';
import { DASHBOARD_ACTOR } from './identities.js';
import { setCookie } from './security.js';

export interface SignedInSession {
  readonly ctx: AuthContext;
  readonly actor: Actor;
  readonly sessionId: string;
}

export type SessionDeps = ServiceDeps & { readonly authn: Authenticator };

/** The session the request's cookie carries, or null (none, invalid, expired, revoked). */
export async function currentSession(deps: SessionDeps, cookieHeader: string | undefined): Promise<SignedInSession | null> {
  if (cookieHeader === undefined) return null;
  const head = {
    method: 'GET',
    path: '/account',
    query: '',
    headers: ['cookie', cookieHeader],
    remoteAddress: 'dashboard',
    requestId: randomBytes(8).toString('hex'),
  };
  const out = await deps.authn.authenticate(head, API_ROUTE);
  if (!out.ok || out.ctx === null || out.ctx.method !== 'session' || out.ctx.session_id === undefined) return null;
  return { ctx: out.ctx, actor: actorOf(out.ctx, deps.cfg.control.admin_role), sessionId: out.ctx.session_id };
}

/** Mint a session for the user; the Set-Cookie value, or the denial. */
export async function openSession(deps: ServiceDeps, userId: string): Promise<Result<string>> {
  const minted = await createSession(deps, DASHBOARD_ACTOR, { user_id: userId });
  if (!minted.ok) return minted;
  const now = Math.floor(deps.now() / 1000);
  return { ok: true, status: 201, value: setCookie(cookieName(deps), minted.value.value, { path: '/', maxAgeS: Math.max(0, minted.value.expires_at - now) }) };
}

/** Revoke the session everywhere (every sidecar refuses it from now on); the clearing Set-Cookie. */
export async function closeSession(deps: ServiceDeps, sessionId: string): Promise<Result<string>> {
  const r = await revoke(deps, DASHBOARD_ACTOR, { kind: 'session', id: sessionId });
  return r.ok ? { ok: true, status: 200, value: setCookie(cookieName(deps), '', { path: '/', maxAgeS: 0 }) } : r;
}

export function cookieName(deps: ServiceDeps): string {
  const name = deps.cfg.auth.session?.cookie;
  if (name === undefined) throw new Error('control.dashboard needs auth.session.cookie (checked at boot)');
  return name;
}
