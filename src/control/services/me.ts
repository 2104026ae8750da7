/**
 * Self-service: the caller's own user record, preferences and keys. The one
 * check is that the subject is the caller; keys go through keys.ts with the
 * caller as the user.
 */
import type { UserRow } from '../../identity-admin/userstore.js';
import type { Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { notFound, ok, type Result } from './result.js';
import { mutate } from './tx.js';
import { applyUserUpdate } from './users.js';
import { userView, type UserView } from './views.js';

export async function getMe(deps: ServiceDeps, actor: Actor): Promise<Result<UserView>> {
  const row = (await deps.pool.query<UserRow>(`SELECT * FROM users WHERE user_id = $1 AND status = 'active'`, [actor.id])).rows[0];
  return row === undefined ? notFound('user record for this credential') : ok(userView(row));
}

export async function getPreferences(deps: ServiceDeps, actor: Actor): Promise<Result<Record<string, unknown>>> {
  const me = await getMe(deps, actor);
  return me.ok ? ok(me.value.preferences) : me;
}

/** Replace the caller's preferences (one audit row, `user.preferences`). */
export async function putPreferences(deps: ServiceDeps, actor: Actor, prefs: Record<string, unknown>): Promise<Result<Record<string, unknown>>> {
  const r = await mutate(deps, (tx) => applyUserUpdate(tx, actor, actor.id, { preferences: prefs }, 'user.preferences'));
  return r.ok ? ok(r.value.preferences) : r;
}
