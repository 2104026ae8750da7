/**
 * The MCP server (the official SDK's McpServer): the 11 tools of the seeds
 * (./tools-read.ts, ./tools-write.ts), the config resources and the two prompts
 * (./catalog.ts). One factory for both transports: over Streamable HTTP a fresh
 * server per request (stateless: any replica answers), over stdio one for the
 * process's life.
 *
 * A tool call: who is calling (`caller`, re-asked per call so a revoked
 * credential stops working), the tool's scope, the service call, the usage
 * event (./metering.ts), then the outcome as structured content, or a tool error
 * (`isError`) carrying the ARGUS code and message.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Denial } from '../../errors.js';
import type { Meter } from '../../meter/producer.js';
import type { Actor } from '../services/actor.js';
import { fail, type Result } from '../services/result.js';
import { registerPrompts, registerResources } from './catalog.js';
import { meterToolCall } from './metering.js';
import { hasScope, insufficientScope, scopeFor } from './scopes.js';
import type { McpDeps, ToolSpec } from './tool.js';
import { READ_TOOLS } from './tools-read.js';
import { WRITE_TOOLS } from './tools-write.js';

/** Every tool, in the order `tools/list` shows them. */
export const TOOLS: readonly ToolSpec[] = [...READ_TOOLS, ...WRITE_TOOLS];

export const SERVER_INFO = { name: 'argus', version: '1.0.0' } as const;

export interface McpServerOptions {
  /** The caller of a tool call, or why there is none. */
  readonly caller: () => Promise<Result<Actor>>;
  /** Where tool calls are metered (null: not metered). */
  readonly meter: Meter | null;
}

/** A tool error: the error envelope's `{code, message}` as text, `isError` set. */
export function toolError(d: Denial): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error: { code: d.code, message: d.message } }) }] };
}

export function createMcpServer(deps: McpDeps, opts: McpServerOptions): McpServer {
  const server = new McpServer(SERVER_INFO, {
    capabilities: { tools: {}, resources: {}, prompts: {} },
    instructions:
      'Argus identity, entitlements and billing. Read tools need scope argus:mcp:read, the others argus:mcp:write; the service layer checks roles (admin) on top. Errors carry an ARGUS_* code.',
  });
  for (const spec of TOOLS) {
    const config = { title: spec.title, description: spec.description, inputSchema: spec.input, outputSchema: spec.output, annotations: spec.annotations };
    server.registerTool(spec.name, config, (async (args: unknown) => callTool(deps, opts, spec, args)) as never);
  }
  registerResources(server, deps.cfg);
  registerPrompts(server);
  return server;
}

async function callTool(deps: McpDeps, opts: McpServerOptions, spec: ToolSpec, args: unknown): Promise<CallToolResult> {
  const who = await opts.caller();
  if (!who.ok) return toolError(who.denial);
  const actor = who.value;
  const scope = scopeFor(spec.annotations.readOnlyHint);
  const startedAt = deps.now();
  const started = performance.now();
  const result = hasScope(actor, scope) ? await run(deps, spec, actor, args) : ({ ok: false, denial: insufficientScope(scope) } as const);
  meterToolCall(opts.meter, { tool: spec.name, actor, result, service: deps.cfg.metering.service, startedAt, latencyMs: performance.now() - started });
  if (!result.ok) return toolError(result.denial);
  const value = result.value as Record<string, unknown>;
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

/** The service call; a fault (Postgres down, a bug) is logged here and answered as ARGUS_INTERNAL, never with its message. */
async function run(deps: McpDeps, spec: ToolSpec, actor: Actor, args: unknown): Promise<Result<unknown>> {
  try {
    return await spec.run(deps, actor, args as never);
  } catch (err) {
    deps.log.error('mcp: tool call failed', { tool: spec.name, err });
    return fail('ARGUS_INTERNAL', 'internal error');
  }
}
