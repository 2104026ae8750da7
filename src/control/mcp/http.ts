/**
 * MCP over stateless Streamable HTTP at `/mcp` on the internal listener, and
 * its RFC 9728 protected-resource metadata. Each POST gets a fresh server and
 * transport (`sessionIdGenerator: undefined`, JSON responses): no state stays
 * behind, so any replica answers any request and no affinity is needed. GET
 * and DELETE (a standalone SSE stream, session end) answer 405: a stateless
 * server has neither.
 *
 * Auth happens before the transport sees the request: the sidecar's
 * authenticator verifies the bearer (JWT or `ak_` key; the API-key header and
 * signed sessions work too). None or a bad one → 401 with
 * `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1). Scopes are
 * decided per JSON-RPC message from the parsed body: a `tools/call` needs the
 * tool's scope, anything else either MCP scope; short → 403 with
 * `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (RFC 6750 §3.1).
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { deny, statusOf, type Denial } from '../../errors.js';
import { sendDenial, type Api, type ApiContext } from '../api/http.js';
import type { Actor } from '../services/actor.js';
import { ok } from '../services/result.js';
import { MCP_READ, MCP_WRITE, authenticateHeaders, hasScope, insufficientScope, scopeFor } from './scopes.js';
import { createMcpServer, TOOLS } from './server.js';
import type { McpDeps } from './tool.js';

export const METADATA_PATH = '/.well-known/oauth-protected-resource/mcp';
/** Largest JSON-RPC body read. */
const MAX_BODY_BYTES = 1024 * 1024;
const TOOL_SCOPES = new Map(TOOLS.map((t) => [t.name, scopeFor(t.annotations.readOnlyHint)]));

/** The resource agents name (`control.mcp.resource_url`, else this request's origin + `/mcp`) and where its metadata is. */
function resourceOf(deps: McpDeps, c: ApiContext): { resource: string; metadata: string } {
  const resource = deps.cfg.control.mcp.resource_url ?? `${new URL(c.req.url).origin}/mcp`;
  return { resource, metadata: `${new URL(resource).origin}${METADATA_PATH}` };
}

export function mcpRoutes(app: Api, deps: () => McpDeps): void {
  app.get(METADATA_PATH, (c) => {
    c.set('operation', 'mcpMetadata');
    const d = deps();
    const issuer = d.cfg.auth.jwt?.issuer;
    return c.json({
      resource: resourceOf(d, c).resource,
      authorization_servers: d.cfg.control.mcp.authorization_servers ?? (issuer ? [issuer] : []),
      scopes_supported: [MCP_READ, MCP_WRITE],
      bearer_methods_supported: ['header'],
      resource_name: 'Argus MCP server',
    });
  });
  app.on(['GET', 'DELETE'], '/mcp', (c) => {
    c.set('operation', 'mcp');
    return c.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: stateless server, POST only' }, id: null }, 405, { allow: 'POST' });
  });
  app.post('/mcp', async (c) => {
    c.set('operation', 'mcp');
    const d = deps();
    const who = await authenticateHeaders(d, flatHeaders(c), c.env?.incoming?.socket?.remoteAddress ?? 'unknown');
    if (!who.ok) return sendDenial(c, statusOf(who.denial.code) === 401 ? withResourceMetadata(who.denial, resourceOf(d, c).metadata) : who.denial);
    if (Number(c.req.header('content-length') ?? '0') > MAX_BODY_BYTES) return rpcError(c, 413, -32600, 'request body too large');
    const text = await c.req.text();
    if (Buffer.byteLength(text) > MAX_BODY_BYTES) return rpcError(c, 413, -32600, 'request body too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return rpcError(c, 400, -32700, 'Parse error: the body is not JSON');
    }
    const missing = missingScope(who.value, body);
    if (missing !== null) return sendDenial(c, insufficientScope(missing));
    const actor = who.value;
    const server = createMcpServer(d, { caller: async () => ok(actor), meter: d.billing?.meter ?? null });
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    try {
      await server.connect(transport);
      return await transport.handleRequest(c.req.raw, { parsedBody: body });
    } finally {
      // JSON responses are complete when handleRequest returns: nothing is left to stream.
      await server.close();
    }
  });
}

/** The scope the caller lacks for one of the messages in `body` (a message or a batch), or null. */
export function missingScope(actor: Actor, body: unknown): string | null {
  for (const m of Array.isArray(body) ? body : [body]) {
    const msg = m as { method?: unknown; params?: { name?: unknown } } | null;
    const method = typeof msg?.method === 'string' ? msg.method : '';
    const tool = method === 'tools/call' && typeof msg?.params?.name === 'string' ? TOOL_SCOPES.get(msg.params.name) : undefined;
    const need = tool ?? MCP_READ;
    if (!hasScope(actor, need)) return need;
  }
  return null;
}

/** A 401 names the protected-resource metadata (RFC 9728 §5.1), keeping the authenticator's `error="…"` when it gave one. */
function withResourceMetadata(d: Denial, metadata: string): Denial {
  const given = d.headers?.find(([k]) => k.toLowerCase() === 'www-authenticate')?.[1];
  const www = given?.startsWith('Bearer ') ? `${given}, resource_metadata="${metadata}"` : `Bearer resource_metadata="${metadata}"`;
  const rest = (d.headers ?? []).filter(([k]) => k.toLowerCase() !== 'www-authenticate');
  return deny(d.code, d.message, [...rest, ['www-authenticate', www]]);
}

function flatHeaders(c: ApiContext): string[] {
  const out: string[] = [];
  for (const [name, value] of c.req.raw.headers) out.push(name, value);
  return out;
}

function rpcError(c: ApiContext, status: 400 | 413, code: number, message: string): Response {
  return c.json({ jsonrpc: '2.0', error: { code, message }, id: null }, status);
}
