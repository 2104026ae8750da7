/**
 * Everything the account page shows, read through the services with the
 * signed-in user as the actor (the same authorization as `/v1/me/*`): the
 * user, tier and plan, this month's usage, keys, linked sign-ins, org
 * memberships with the pending invitations of orgs the user administers, and
 * invitations waiting for the user's email.
 */
import { getSubscription } from '../billing/service.js';
import type { Actor } from '../services/actor.js';
import type { ServiceDeps } from '../services/deps.js';
import { listKeys } from '../services/keys.js';
import { getMe } from '../services/me.js';
import { listInvitations } from '../services/invitations.js';
import { getUsage } from '../services/usage.js';
import { getUser } from '../services/users.js';
import type { InvitationView, KeyView, UserView } from '../services/views.js';
import { monthSeries, type Series } from './chart.js';
import { identitiesOf } from './identities.js';

export interface Membership {
  org_id: string;
  name: string;
  role: string;
  pending: InvitationView[];
}

export interface AccountData {
  user: UserView;
  tier: string;
  plan: string | null;
  month: string;
  /** Days in this month (the charts' axis). */
  monthDays: number;
  requests: Series;
  tokens: Series;
  keys: KeyView[];
  identities: Array<{ provider: string; email: string | null }>;
  orgs: Membership[];
  invitedTo: Array<{ org_id: string; name: string; role: string; expires_at: string }>;
}

/** Null when the user record is gone (deleted since sign-in). */
export async function loadAccount(deps: ServiceDeps, actor: Actor, userId: string): Promise<AccountData | null> {
  // The admin page reads another user's account with the admin's own authority.
  const found = actor.id === userId ? await getMe(deps, actor) : await getUser(deps, actor, userId);
  if (!found.ok) return null;
  const user = found.value;
  const now = new Date(deps.now());
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const usage = await getUsage(deps, actor, { user_id: userId, period: 'day', from: monthStart.toISOString() });
  const { requests, tokens } = monthSeries(usage.ok ? usage.value.items : [], monthStart, now.getUTCDate());
  const sub = await getSubscription(deps, actor, { user_id: userId });
  const keys = await listKeys(deps, actor, userId);
  const orgRows = await deps.pool.query<{ org_id: string; name: string; role: string }>(
    `SELECT o.org_id, o.name, m.role FROM org_members m JOIN orgs o USING (org_id) WHERE m.user_id = $1 AND o.status = 'active' ORDER BY o.name`,
    [userId],
  );
  const orgs: Membership[] = [];
  for (const r of orgRows.rows) {
    const inv = r.role === 'member' ? null : await listInvitations(deps, actor, r.org_id);
    orgs.push({ ...r, pending: inv?.ok ? inv.value.items.filter((i) => i.status === 'pending') : [] });
  }
  const invitedTo =
    user.email === null
      ? []
      : (
          await deps.pool.query<{ org_id: string; name: string; role: string; expires_at: Date }>(
            `SELECT i.org_id, o.name, i.role, i.expires_at FROM org_invitations i JOIN orgs o USING (org_id)
             WHERE lower(i.email) = lower($1) AND i.status = 'pending' AND i.expires_at > now() ORDER BY i.created_at`,
            [user.email],
          )
        ).rows.map((r) => ({ ...r, expires_at: r.expires_at.toISOString() }));
  return {
    user,
    tier: (sub.ok ? sub.value.tier : user.tier) ?? deps.cfg.auth.default_tier,
    plan: sub.ok ? sub.value.plan : null,
    month: monthStart.toLocaleString('en', { month: 'short', timeZone: 'UTC' }),
    monthDays: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0)).getUTCDate(),
    requests,
    tokens,
    keys: keys.ok ? keys.value.items : [],
    identities: await identitiesOf(deps, userId),
    orgs,
    invitedTo,
  };
}
