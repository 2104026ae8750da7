/**
 * The auth event log over the control plane (`GET /v1/auth-events`): refusals,
 * kill-switch closes, revocations and tier changes from the `auth_events` table,
 * through the same listing as `argus-sidecar auth-events`
 * (src/billing/auth-events-list.ts). An admin may read anyone's events; any
 * other caller only their own (the default for them), as with `GET /v1/usage`.
 */
import { decodeAuthEventCursor, listAuthEvents, type AuthEventPage } from '../../billing/auth-events-list.js';
import type { Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { fail, ok, type Result } from './result.js';

export interface AuthEventsInput {
  readonly user?: string | undefined;
  /** ISO 8601 with offset, inclusive. */
  readonly from?: string | undefined;
  /** ISO 8601 with offset, exclusive. */
  readonly to?: string | undefined;
  readonly kind?: string | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

export async function getAuthEvents(deps: ServiceDeps, actor: Actor, q: AuthEventsInput): Promise<Result<AuthEventPage>> {
  const user = q.user ?? (actor.admin ? undefined : actor.id);
  if (!actor.admin && user !== actor.id) return fail('ARGUS_FORBIDDEN', `only role admin or scope argus:admin may read another user's auth events`);
  const from = q.from === undefined ? undefined : Date.parse(q.from);
  const to = q.to === undefined ? undefined : Date.parse(q.to);
  if (from !== undefined && to !== undefined && from >= to) return fail('ARGUS_INVALID_REQUEST', 'query.from: must be before query.to');
  if (q.cursor !== undefined && decodeAuthEventCursor(q.cursor) === null)
    return fail('ARGUS_INVALID_REQUEST', 'query.cursor: not a next_cursor of this listing');
  return ok(await listAuthEvents(deps.pool, { user, from, to, kind: q.kind, limit: q.limit, cursor: q.cursor }));
}
