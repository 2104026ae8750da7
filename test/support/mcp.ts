/**
 * MCP fixtures: an agent user with an API key holding the MCP scopes (created
 * through the control process's REST API), and SDK clients over stdio (a
 * spawned `argus-sidecar mcp --stdio`) and Streamable HTTP.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ControlEnv } from './control.js';
import { CLI } from './spawn.js';

export const READ = 'argus:mcp:read';
export const WRITE = 'argus:mcp:write';

/** A user (role admin unless told) and an API key of theirs with `scopes`; returns the key. */
export async function agentKey(env: ControlEnv, userId: string, scopes: string[], role: string | null = 'admin'): Promise<string> {
  return (await agentKeyWithId(env, userId, scopes, role)).key;
}

export async function agentKeyWithId(
  env: ControlEnv,
  userId: string,
  scopes: string[],
  role: string | null = 'admin',
): Promise<{ key: string; keyId: string }> {
  const u = await env.api('POST', '/v1/users', { body: { user_id: userId, tier: 'business', ...(role !== null && { role }) } });
  if (u.status !== 201) throw new Error(`agent user: ${u.status} ${JSON.stringify(u.body)}`);
  const k = await env.api('POST', `/v1/users/${userId}/keys`, { body: { scopes, ...(role !== null && { role }) } });
  if (k.status !== 201) throw new Error(`agent key: ${k.status} ${JSON.stringify(k.body)}`);
  return { key: k.body.key as string, keyId: k.body.api_key.key_id as string };
}

/** An SDK Client on a spawned `argus-sidecar mcp --stdio --config FILE`; its stderr is collected. */
export async function stdioClient(configFile: string, env: Record<string, string>): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'mcp', '--stdio', '--config', configFile],
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'argus-test', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (e) {
    // The child exited before answering: say why (its stderr comes a moment after the close).
    await new Promise((r) => setTimeout(r, 200));
    throw new Error(`mcp --stdio ended during connect (${(e as Error).message}); its stderr:\n${err}`);
  }
  return { client, stderr: () => err };
}

/** An SDK Client over Streamable HTTP at `url` with `Authorization: Bearer <bearer>`. */
export async function httpClient(url: string, bearer: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${bearer}` } } });
  const client = new Client({ name: 'argus-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** The JSON text of a tool result's first content item. */
export function textOf(result: unknown): unknown {
  const c = (result as { content?: Array<{ type: string; text?: string }> }).content?.[0];
  return c?.type === 'text' && c.text !== undefined ? JSON.parse(c.text) : undefined;
}
