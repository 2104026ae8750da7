/**
 * Who calls a service operation. Over HTTP: the AuthContext the sidecar's
 * authenticator built from the request's credential. From the CLI: the
 * operator (`cli:<login>`), an administrator.
 *
 * A platform administrator has role `control.admin_role` (default `admin`) or
 * scope `argus:admin`; everyone else may act only on themselves and on the orgs
 * where they are owner or admin.
 */
import { userInfo } from 'node:os';
import type { AuthContext } from '../../request/principal.js';
import { fail, type Result } from './result.js';

export const ADMIN_SCOPE = 'argus:admin';

export interface Actor {
  /** The audit log's `actor`: the user id, or `cli:<login>`. */
  readonly id: string;
  readonly admin: boolean;
  /** The caller's context (null for the CLI). */
  readonly ctx: AuthContext | null;
}

export function actorOf(ctx: AuthContext, adminRole: string): Actor {
  return { id: ctx.user_id, admin: ctx.role === adminRole || ctx.scopes.includes(ADMIN_SCOPE), ctx };
}

export function cliActor(): Actor {
  let login = 'operator';
  try {
    login = userInfo().username || login;
  } catch {
    // no passwd entry (containers): keep the default
  }
  return { id: `cli:${login}`, admin: true, ctx: null };
}

/** The one check of admin-only operations: null when allowed. */
export function requireAdmin(actor: Actor): Result<never> | null {
  return actor.admin ? null : fail('ARGUS_FORBIDDEN', `this operation needs role admin or scope ${ADMIN_SCOPE}`);
}

/** Admin, or the user themself. */
export function requireSelfOrAdmin(actor: Actor, userId: string): Result<never> | null {
  return actor.admin || actor.id === userId ? null : fail('ARGUS_FORBIDDEN', 'you may act only on your own user');
}
