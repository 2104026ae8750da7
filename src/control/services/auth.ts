/**
 * What services ask of Argus on their own behalf: is this credential valid
 * (the sidecar's authenticator decides, so the answer is the sidecar's), what
 * is this user entitled to (features, models, exchanges, order types), and a
 * signed session header for a user (the edge's format, src/authenticate/session.ts).
 * Admin only, except that a user may check their own entitlements.
 */
import { randomBytes } from 'node:crypto';
import { routeSchema } from '../../request/route-schema.js';
import { signSession } from '../../authenticate/session.js';
import type { AuthContext } from '../../request/principal.js';
import { statusOf } from '../../errors.js';
import { createModelCheck, type ModelCheck } from '../../llm/entitlements.js';
import type { RouteConfig } from '../../config.js';
import type { EntitlementsInput, SessionInput, ValidateInput } from '../api/schemas.js';
import { requireAdmin, requireSelfOrAdmin, type Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { fail, notFound, ok, type Result } from './result.js';
import { audit, mutate } from './tx.js';
import type { UserCache } from './user-cache.js';

/** How the control API itself is authenticated: every credential kind, fail closed. */
export const API_ROUTE: RouteConfig = routeSchema.parse({ path: '/v1/*' }) as RouteConfig;

export interface Validation {
  valid: boolean;
  context?: AuthContext;
  error?: { code: string; message: string };
}

/** A credential → the AuthContext the sidecar builds, or the 401/403 denial it would give. */
export async function validateCredential(deps: ServiceDeps, actor: Actor, input: ValidateInput): Promise<Result<Validation>> {
  const denied = requireAdmin(actor);
  if (denied) return denied;
  const given = [input.token, input.api_key, input.session].filter((v) => v !== undefined);
  if (given.length !== 1) return fail('ARGUS_INVALID_REQUEST', 'exactly one of token, api_key, session is required');
  if (deps.authn === null) return fail('ARGUS_NOT_CONFIGURED', 'no authenticator');
  const auth = deps.cfg.auth;
  const headers: string[] = [];
  if (input.token !== undefined) headers.push('authorization', `Bearer ${input.token}`);
  if (input.api_key !== undefined) headers.push(auth.api_keys.header.toLowerCase(), input.api_key);
  if (input.session !== undefined) {
    if (auth.session === undefined) return ok({ valid: false, error: { code: 'ARGUS_INVALID_SESSION', message: 'sessions are not configured' } });
    headers.push(auth.session.header.toLowerCase(), input.session);
  }
  const head = { method: 'POST', path: '/v1/auth/validate', query: '', headers, remoteAddress: 'control', requestId: randomBytes(8).toString('hex') };
  const out = await deps.authn.authenticate(head, API_ROUTE);
  if (out.ok)
    return out.ctx === null ? ok({ valid: false, error: { code: 'ARGUS_UNAUTHENTICATED', message: 'no credential' } }) : ok({ valid: true, context: out.ctx });
  const status = statusOf(out.denial.code);
  // A refusal is an answer; "cannot tell now" (503) is an error of this call.
  if (status === 401 || status === 403 || status === 429) return ok({ valid: false, error: { code: out.denial.code, message: out.denial.message } });
  return { ok: false, denial: out.denial };
}

export interface Entitlements {
  user_id: string;
  tier: string;
  features: Record<string, boolean>;
  models: Record<string, boolean>;
  exchanges: Record<string, boolean>;
  order_types: Record<string, boolean>;
  paper_only: boolean;
}

const modelChecks = new WeakMap<object, ModelCheck>();

/** The seeds' batch_check_entitlements, from the user's committed record (cached, evicted on change). */
export async function checkEntitlements(deps: ServiceDeps & { userCache: UserCache }, actor: Actor, input: EntitlementsInput): Promise<Result<Entitlements>> {
  const denied = requireSelfOrAdmin(actor, input.user_id);
  if (denied) return denied;
  const row = await deps.userCache.get(input.user_id);
  if (row === null) return notFound('user');
  let check = modelChecks.get(deps.cfg);
  if (check === undefined) modelChecks.set(deps.cfg, (check = createModelCheck({ modelTiers: deps.cfg.llm.model_tiers })));
  const features = new Set(row.features ?? []);
  const trading = row.trading;
  const map = (names: readonly string[], has: (n: string) => boolean) => Object.fromEntries(names.map((n) => [n, has(n)]));
  const ctx = row.llm === null ? undefined : ({ llm: row.llm } as AuthContext);
  return ok({
    user_id: row.user_id,
    tier: row.tier ?? deps.cfg.auth.default_tier,
    features: map(input.features, (f) => features.has(f)),
    models: map(input.models, (m) => check(ctx, m) === null),
    exchanges: map(input.exchanges, (e) => trading?.exchanges.includes(e) ?? false),
    order_types: map(input.order_types, (t) => trading?.order_types.includes(t) ?? false),
    paper_only: trading?.paper_only ?? true,
  });
}

export interface SessionMinted {
  header: string;
  value: string;
  session_id: string;
  user_id: string;
  expires_at: number;
}

/** The seeds' create_session: a signed session header for an active user (revocable with `revoke --session`). */
export async function createSession(deps: ServiceDeps, actor: Actor, input: SessionInput): Promise<Result<SessionMinted>> {
  const denied = requireAdmin(actor);
  if (denied) return denied;
  const session = deps.cfg.auth.session;
  if (session === undefined) return fail('ARGUS_NOT_CONFIGURED', 'auth.session is not configured');
  const ttl = Math.min(input.ttl_s ?? deps.cfg.control.session_ttl_s, session.max_age_s);
  return mutate(deps, async (tx) => {
    const user = (await tx.query<{ tier: string | null }>(`SELECT tier FROM users WHERE user_id = $1 AND status = 'active'`, [input.user_id])).rows[0];
    if (user === undefined) return { result: notFound<SessionMinted>('user') };
    const iat = Math.floor(deps.now() / 1000);
    const sid = `s_${randomBytes(12).toString('base64url')}`;
    const tier = input.tier ?? user.tier ?? undefined;
    const value = signSession({ sub: input.user_id, sid, iat, exp: iat + ttl, ...(tier !== undefined && { tier }) }, session.secret);
    await audit(tx, actor, 'session.create', { kind: 'user', id: input.user_id }, null, { session_id: sid, expires_at: iat + ttl });
    return { result: ok({ header: session.header, value, session_id: sid, user_id: input.user_id, expires_at: iat + ttl }, 201) };
  });
}
