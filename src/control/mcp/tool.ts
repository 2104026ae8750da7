/**
 * One MCP tool: its name, description, zod input and output schemas (the same
 * shapes the REST API declares in src/control/api/), its annotations, and the
 * service-layer call it makes. Tools never implement an operation themselves:
 * `run` calls the function the REST route calls, so authorization and audit
 * happen once, in the service.
 */
import type { z } from '@hono/zod-openapi';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { Actor } from '../services/actor.js';
import type { ServiceDeps } from '../services/deps.js';
import type { Result } from '../services/result.js';
import type { UserCache } from '../services/user-cache.js';

/** What a tool's service call gets: the services' deps plus the user cache entitlement checks read. */
export type McpDeps = ServiceDeps & { readonly userCache: UserCache };

export interface ToolSpec {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly input: z.AnyZodObject;
  readonly output: z.AnyZodObject;
  /** `readOnlyHint` decides the scope: read-only tools need `argus:mcp:read`, the others `argus:mcp:write`. */
  readonly annotations: ToolAnnotations & { readonly readOnlyHint: boolean };
  run(deps: McpDeps, actor: Actor, input: never): Promise<Result<unknown>>;
}

/** Declare a tool with `run` typed by its input schema. */
export function tool<I extends z.AnyZodObject>(
  spec: Omit<ToolSpec, 'input' | 'run'> & { input: I; run(deps: McpDeps, actor: Actor, input: z.infer<I>): Promise<Result<unknown>> },
): ToolSpec {
  return spec as ToolSpec;
}

/** Read-only, no side effects outside Argus. */
export const READ: ToolSpec['annotations'] = { readOnlyHint: true, openWorldHint: false };
