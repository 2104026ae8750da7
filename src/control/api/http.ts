/**
 * The REST layer's plumbing: every operation is declared once with {@link op}
 * (method, path, operationId, zod schemas), which both registers the handler
 * and puts it in the OpenAPI document. Requests are authenticated by the
 * sidecar's own authenticator (src/authenticate/) before validation; refusals
 * and service denials use the sidecar's error envelope and codes (src/errors.ts).
 */
import { randomBytes } from 'node:crypto';
import type { OpenAPIHono, z } from '@hono/zod-openapi';
import { createRoute, z as zod } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { errorBody, statusOf, type Denial, type ErrorCode } from '../../errors.js';
import { actorOf, type Actor } from '../services/actor.js';
import { API_ROUTE } from '../services/auth.js';
import type { ServiceDeps } from '../services/deps.js';
import type { Result } from '../services/result.js';
import { ErrorBody } from './schemas.js';

export type ApiEnv = { Variables: { actor: Actor; requestId: string; operation: string }; Bindings: { incoming?: { socket?: { remoteAddress?: string } } } };
export type Api = OpenAPIHono<ApiEnv>;
export type ApiContext = Context<ApiEnv>;

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export function requestIdOf(c: ApiContext): string {
  const given = c.req.header('x-request-id');
  return given !== undefined && REQUEST_ID.test(given) ? given : randomBytes(8).toString('hex');
}

/** The error envelope, with the denial's extra headers (Retry-After, WWW-Authenticate). */
export function sendDenial(c: ApiContext, d: Denial): Response {
  const headers = new Headers({ 'content-type': 'application/json', 'x-request-id': c.get('requestId') ?? '' });
  for (const [k, v] of d.headers ?? []) headers.set(k, v);
  return new Response(errorBody(d.code, d.message, c.get('requestId') ?? ''), { status: statusOf(d.code), headers });
}

export function sendError(c: ApiContext, code: ErrorCode, message: string): Response {
  return sendDenial(c, { code, message });
}

/** Authenticate `/v1/*` with the sidecar's authenticator: 401/403/429/503 exactly as a sidecar would answer. */
export function authenticate(deps: () => ServiceDeps): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const d = deps();
    if (d.authn === null) return sendError(c, 'ARGUS_NOT_CONFIGURED', 'no authenticator');
    const headers: string[] = [];
    for (const [name, value] of c.req.raw.headers) headers.push(name, value);
    const url = new URL(c.req.url);
    const head = {
      method: c.req.method,
      path: url.pathname,
      query: url.search.slice(1),
      headers,
      remoteAddress: c.env?.incoming?.socket?.remoteAddress ?? 'unknown',
      requestId: c.get('requestId'),
    };
    const out = await d.authn.authenticate(head, API_ROUTE);
    if (!out.ok) return sendDenial(c, out.denial);
    if (out.ctx === null) return sendError(c, 'ARGUS_UNAUTHENTICATED', 'a credential is required');
    c.set('actor', actorOf(out.ctx, d.cfg.control.admin_role));
    await next();
  };
}

export interface OpSpec {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path, e.g. `/v1/users/{user_id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: string;
  readonly params?: z.AnyZodObject;
  readonly query?: z.AnyZodObject;
  readonly body?: z.ZodTypeAny;
  readonly response: z.ZodTypeAny;
  readonly status?: 200 | 201;
  /** Creates: an `Idempotency-Key` header is honoured. */
  readonly idempotent?: boolean;
}

export interface OpInput {
  // Shapes are checked by the schemas above; handlers read them through their inferred types.
  readonly params: Record<string, string>;
  readonly query: Record<string, unknown>;
  readonly body: unknown;
  readonly actor: Actor;
  readonly idempotencyKey: string | undefined;
  readonly deps: ServiceDeps;
}

const ERRORS = {
  400: 'Invalid request (ARGUS_INVALID_REQUEST)',
  401: 'No or invalid credential',
  403: 'Not allowed for this caller',
  404: 'No such resource (ARGUS_NOT_FOUND)',
  409: 'Conflict',
  503: 'Authentication or a dependency is unavailable',
} as const;

const IDEMPOTENCY_HEADER = zod.object({
  'idempotency-key': zod
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({ description: 'Retry-safe creates: the same key and body get the first answer again (header `Idempotent-Replayed: true`)' }),
});

type LooseOpenapi = (route: unknown, handler: (c: ApiContext) => Promise<Response>) => unknown;

/** Declare and register one operation. */
export function op(app: Api, deps: () => ServiceDeps, spec: OpSpec, handler: (input: OpInput) => Promise<Result<unknown>>): void {
  const status = spec.status ?? 200;
  const errorResponses = Object.fromEntries(
    Object.entries(ERRORS).map(([code, description]) => [code, { description, content: { 'application/json': { schema: ErrorBody } } }]),
  );
  const route = createRoute({
    method: spec.method,
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    tags: [spec.tag],
    security: [{ apiKey: [] }, { bearer: [] }, { session: [] }],
    request: {
      ...(spec.params && { params: spec.params }),
      ...(spec.query && { query: spec.query }),
      ...(spec.body && { body: { content: { 'application/json': { schema: spec.body } }, required: true } }),
      ...(spec.idempotent && { headers: IDEMPOTENCY_HEADER }),
    },
    responses: {
      [status]: { description: status === 201 ? 'Created' : 'OK', content: { 'application/json': { schema: spec.response } } },
      // A create that was already done (an invitation accepted again by the same user) answers 200 with the same body.
      ...(status === 201 && { 200: { description: 'Already done', content: { 'application/json': { schema: spec.response } } } }),
      ...errorResponses,
    },
  });
  (app.openapi as unknown as LooseOpenapi).call(app, route, async (c) => {
    c.set('operation', spec.operationId);
    const valid = (c.req.valid as unknown as (target: string) => unknown).bind(c.req);
    const result = await handler({
      params: (spec.params ? valid('param') : {}) as Record<string, string>,
      query: (spec.query ? valid('query') : {}) as Record<string, unknown>,
      body: spec.body ? valid('json') : undefined,
      actor: c.get('actor'),
      idempotencyKey: spec.idempotent ? c.req.header('idempotency-key') : undefined,
      deps: deps(),
    });
    if (!result.ok) return sendDenial(c, result.denial);
    const headers: Record<string, string> = { 'x-request-id': c.get('requestId') };
    if (result.replayed) headers['idempotent-replayed'] = 'true';
    return c.json(result.value as object, result.status, headers);
  });
}
