/** `GET /v1/auth-events`: the auth event log (docs/observability.md, "Auth events"), a page at a time. */
import { z } from '@hono/zod-openapi';
import { AUTH_EVENT_KINDS } from '../../billing/auth-events-list.js';
import { getAuthEvents } from '../services/auth-events.js';
import type { ServiceDeps } from '../services/deps.js';
import { op, type Api } from './http.js';

const time = z.string().datetime({ offset: true });

const AuthEventQuery = z.object({
  user: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .openapi({ description: "Only this user's events. Default: everyone's for an admin, the caller's for anyone else" }),
  from: time.optional().openapi({ description: 'ISO 8601 time with offset, inclusive' }),
  to: time.optional().openapi({ description: 'ISO 8601 time with offset, exclusive' }),
  kind: z.enum(AUTH_EVENT_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(1024).optional().openapi({ description: "The previous page's `next_cursor`" }),
});

const AuthEvent = z
  .object({
    event_id: z.string(),
    occurred_at: z.string().openapi({ description: 'ISO 8601, UTC' }),
    kind: z.enum(AUTH_EVENT_KINDS),
    code: z.string().openapi({ description: 'The refusal code (`ARGUS_*`), `WS_4403`, `REVOKE_*` or `TIER_CHANGE`' }),
    status: z.number().int().nullable(),
    user_id: z.string().nullable(),
    credential_id: z.string().nullable().openapi({ description: 'API key id or session id; never the credential itself' }),
    credential_kind: z.string().nullable(),
    route: z.string().nullable(),
    sidecar: z.string(),
    request_id: z.string().nullable(),
    trace_id: z.string().nullable(),
    detail: z.record(z.unknown()).nullable(),
  })
  .openapi('AuthEvent');
const AuthEventList = z.object({ items: z.array(AuthEvent), next_cursor: z.string().nullable() }).openapi('AuthEventList');

export function auditRoutes(app: Api, deps: () => ServiceDeps): void {
  op(
    app,
    deps,
    {
      method: 'get',
      path: '/v1/auth-events',
      operationId: 'listAuthEvents',
      summary: 'Auth events (refusals, kill-switch closes, revocations, tier changes), oldest first, cursor pagination',
      tag: 'audit',
      query: AuthEventQuery,
      response: AuthEventList,
    },
    (i) => getAuthEvents(i.deps, i.actor, i.query as z.infer<typeof AuthEventQuery>),
  );
}
