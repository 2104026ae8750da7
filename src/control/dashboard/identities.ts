/**
 * Who a provider sign-in is: the user already linked to this provider account;
 * else, when the provider verified the email, the active user with that email
 * (linked now); else a new user. An unverified email never links, and a new
 * user gets it only when verified: anyone can type someone else's address
 * into a provider account. Users are created through the users service (one
 * audit row there); each new link writes `identity.link`.
 */
import type { Actor } from '../services/actor.js';
import type { ServiceDeps } from '../services/deps.js';
import { fail, ok, type Result } from '../services/result.js';
import { audit, mutate } from '../services/tx.js';
import { createUser } from '../services/users.js';
import type { Profile } from './providers.js';

/** The dashboard acting on its own (sign-in, sign-out): audited as `dashboard`. */
export const DASHBOARD_ACTOR: Actor = Object.freeze({ id: 'dashboard', admin: true, ctx: null });

export interface SignedIn {
  user_id: string;
  outcome: 'known' | 'linked' | 'created';
}

export async function signIn(deps: ServiceDeps, p: Profile, signupTier: string | undefined): Promise<Result<SignedIn>> {
  const known = await deps.pool.query<{ user_id: string; status: string }>(
    `UPDATE oauth_accounts a SET email = $3, email_verified = $4, last_login_at = now()
     FROM users u WHERE a.provider = $1 AND a.provider_user_id = $2 AND u.user_id = a.user_id
     RETURNING a.user_id, u.status`,
    [p.provider, p.id, p.email, p.emailVerified],
  );
  const row = known.rows[0];
  if (row !== undefined) return row.status === 'active' ? ok({ user_id: row.user_id, outcome: 'known' }) : fail('ARGUS_FORBIDDEN', 'this account is closed');
  const email = p.emailVerified ? p.email : null;
  if (email !== null) {
    const existing = await deps.pool.query<{ user_id: string }>(`SELECT user_id FROM users WHERE lower(email) = lower($1) AND status = 'active'`, [email]);
    const userId = existing.rows[0]?.user_id;
    if (userId !== undefined) return link(deps, p, userId, 'linked');
  }
  const created = await createUser(deps, DASHBOARD_ACTOR, {
    email,
    name: p.name,
    ...(signupTier !== undefined && { tier: signupTier }),
  });
  if (!created.ok) return created;
  return link(deps, p, created.value.user_id, 'created');
}

function link(deps: ServiceDeps, p: Profile, userId: string, outcome: SignedIn['outcome']): Promise<Result<SignedIn>> {
  return mutate(deps, async (tx) => {
    await tx.query(`INSERT INTO oauth_accounts (provider, provider_user_id, user_id, email, email_verified) VALUES ($1, $2, $3, $4, $5)`, [
      p.provider,
      p.id,
      userId,
      p.email,
      p.emailVerified,
    ]);
    const after = { provider: p.provider, provider_user_id: p.id, email_verified: p.emailVerified };
    await audit(tx, DASHBOARD_ACTOR, 'identity.link', { kind: 'user', id: userId }, null, after);
    return { result: ok({ user_id: userId, outcome }) };
  });
}

/** The provider accounts linked to a user (the account page lists them). */
export async function identitiesOf(deps: ServiceDeps, userId: string): Promise<Array<{ provider: string; email: string | null }>> {
  const r = await deps.pool.query<{ provider: string; email: string | null }>(
    'SELECT provider, email FROM oauth_accounts WHERE user_id = $1 ORDER BY provider, created_at',
    [userId],
  );
  return r.rows;
}
