/**
 * The internal listener's app: `/v1/*` (authenticated with the sidecar's
 * authenticator) and `/openapi.json`, the OpenAPI 3.1 document generated from
 * the route definitions (checked in as docs/openapi.json: `npm run openapi`),
 * and `/mcp`, the MCP server over Streamable HTTP (src/control/mcp/).
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { mcpRoutes } from '../mcp/http.js';
import type { ServiceDeps } from '../services/deps.js';
import type { UserCache } from '../services/user-cache.js';
import { authenticate, requestIdOf, sendError, type Api, type ApiEnv } from './http.js';
import { auditRoutes } from './routes-audit.js';
import { authRoutes, meRoutes } from './routes-auth.js';
import { billingRoutes } from './routes-billing.js';
import { invitationRoutes, memberRoutes, orgRoutes } from './routes-orgs.js';
import { keyRoutes, userRoutes } from './routes-users.js';

export type ApiDeps = ServiceDeps & { userCache: UserCache };

/** The OpenAPI document's fixed parts (the paths come from the routes). */
export const DOCUMENT_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'Argus control plane',
    version: '1.0.0',
    description: 'Users, orgs, API keys, entitlements, sessions and usage (docs/control-plane.md). Errors use the sidecar envelope and codes.',
  },
  servers: [{ url: 'http://argus-control:8070' }],
  tags: [
    { name: 'identity', description: 'Users, API keys, revocations, orgs, members, invitations' },
    { name: 'auth', description: 'Credential validation, entitlement checks, sessions' },
    { name: 'billing', description: 'Usage (from the ledger; recording), Stripe checkout, portal and subscriptions' },
    { name: 'config', description: 'Read-only views of the validated config' },
    { name: 'me', description: "The caller's own record, preferences and keys" },
    { name: 'audit', description: 'The auth event log: refusals, kill-switch closes, revocations, tier changes' },
  ],
};

export interface ApiHooks {
  /** Each answered request: operation id (or `unmatched`), status, seconds. */
  readonly observe?: (operation: string, status: number, seconds: number) => void;
  readonly onError?: (err: unknown) => void;
}

/** Build the app. `deps` is read per request (null only while generating the document). */
export function createApi(deps: () => ApiDeps, hooks: ApiHooks = {}): Api {
  const app: Api = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const where = [result.target === 'json' ? 'body' : result.target, ...(issue?.path ?? [])].join('.');
      return sendError(c, 'ARGUS_INVALID_REQUEST', `${where}: ${issue?.message ?? 'invalid'}`);
    },
  });
  app.use('*', async (c, next) => {
    const started = performance.now();
    c.set('requestId', requestIdOf(c));
    c.set('operation', 'unmatched');
    await next();
    c.res.headers.set('x-request-id', c.get('requestId'));
    hooks.observe?.(c.get('operation'), c.res.status, (performance.now() - started) / 1000);
  });
  app.use('/v1/*', authenticate(deps));
  userRoutes(app, deps);
  keyRoutes(app, deps);
  orgRoutes(app, deps);
  memberRoutes(app, deps);
  invitationRoutes(app, deps);
  authRoutes(app, deps);
  meRoutes(app, deps);
  billingRoutes(app, deps);
  // `/mcp` and its protected-resource metadata: not REST, so not in the OpenAPI document (docs/mcp.md).
  mcpRoutes(app, deps);
  auditRoutes(app, deps);
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'apiKey', in: 'header', name: 'x-api-key' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'header', name: 'x-cognito-session' });
  // Generated once (tens of ms), then served from memory.
  let document: string | null = null;
  app.get('/openapi.json', (c) => {
    document ??= JSON.stringify(app.getOpenAPI31Document(DOCUMENT_INFO));
    return c.body(document, 200, { 'content-type': 'application/json' });
  });
  app.notFound((c) => sendError(c, 'ARGUS_NOT_FOUND', 'no such endpoint'));
  app.onError((err, c) => {
    // The validator's own refusals (a body that is not JSON, a wrong content type).
    if (err instanceof HTTPException && err.status === 400) return sendError(c, 'ARGUS_INVALID_REQUEST', err.message || 'invalid request');
    hooks.onError?.(err);
    return sendError(c, 'ARGUS_INTERNAL', 'internal error');
  });
  return app;
}

/** The OpenAPI 3.1 document, without a running process (`npm run openapi`, tests). */
export function openApiDocument(): unknown {
  const app = createApi(() => {
    throw new Error('no deps while generating the document');
  });
  return app.getOpenAPI31Document(DOCUMENT_INFO);
}
