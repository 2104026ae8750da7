/**
 * Acceptance (issue 26, MCP over stdio): an SDK Client spawns
 * `argus-sidecar mcp --stdio --config FILE` with the agent's key in
 * ARGUS_MCP_API_KEY. `tools/list` is exactly the 11 tools, each with an input
 * and an output schema and annotations (read-only ones marked so, create_user
 * and create_checkout not); `get_user_tier` answers what `GET /v1/users/{id}`
 * reports, before and after a tier change made over REST; `resources/read
 * argus://config/rate-limits` equals the validated config's view; a denial is
 * a tool error with the ARGUS code; create_user writes its audit row; stdout
 * carries only the protocol (the client would fail on anything else). The
 * credential is re-verified per call: once the key is revoked over REST, the
 * next calls are tool errors; closing stdin stops the process cleanly.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parseConfig } from '../src/config.js';
import { rateLimitsView } from '../src/control/services/config-views.js';
import { auditRows, startControlEnv, writeRaw, type ControlEnv } from './support/control.js';
import { READ, WRITE, agentKeyWithId, stdioClient, textOf } from './support/mcp.js';
import { waitFor } from './support/meter-env.js';
import { runCli } from './support/spawn.js';

const TOOLS = [
  'check_entitlement',
  'create_checkout',
  'create_session',
  'create_user',
  'get_org_members',
  'get_subscription',
  'get_user_profile',
  'get_user_tier',
  'record_usage',
  'update_preferences',
  'validate_token',
];
const READ_ONLY = new Set(['validate_token', 'check_entitlement', 'get_user_profile', 'get_user_tier', 'get_org_members', 'get_subscription']);

describe('MCP over stdio', () => {
  let env: ControlEnv;
  let client: Client;
  let stderr: () => string;
  let keyId: string;
  before(async () => {
    env = await startControlEnv();
    const { key, keyId: id } = await agentKeyWithId(env, 'agent', [READ, WRITE]);
    keyId = id;
    assert.equal((await env.api('POST', '/v1/users', { body: { user_id: 'u1', tier: 'explorer' } })).status, 201);
    ({ client, stderr } = await stdioClient(env.configFile, { ARGUS_MCP_API_KEY: key }));
  });
  after(async () => {
    await client?.close();
    await env?.stop();
  });

  it('tools/list: exactly the 11 tools, with schemas and annotations', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', `${t.name} input`);
      assert.equal(t.outputSchema?.type, 'object', `${t.name} output`);
      assert.ok(t.description && t.description.length > 10, `${t.name} description`);
      assert.equal(t.annotations?.readOnlyHint, READ_ONLY.has(t.name), `${t.name} readOnlyHint`);
    }
    const byName = new Map(tools.map((t) => [t.name, t]));
    assert.equal(byName.get('create_user')?.annotations?.readOnlyHint, false);
    assert.equal(byName.get('create_checkout')?.annotations?.readOnlyHint, false);
    assert.ok(Object.keys(byName.get('check_entitlement')?.inputSchema.properties ?? {}).includes('user_id'));
    assert.ok(Object.keys(byName.get('get_user_tier')?.outputSchema?.properties ?? {}).includes('tier'));
  });

  it('get_user_tier: what GET /v1/users/{id} reports, and it follows a tier change', async () => {
    const tierOf = async () => (await client.callTool({ name: 'get_user_tier', arguments: { user_id: 'u1' } })).structuredContent as { tier: string };
    const rest = async () => (await env.api('GET', '/v1/users/u1')).body.tier as string;
    assert.equal((await tierOf()).tier, 'explorer');
    assert.equal((await tierOf()).tier, await rest());
    assert.equal((await env.api('PATCH', '/v1/users/u1', { body: { tier: 'professional' } })).status, 200);
    assert.equal((await tierOf()).tier, 'professional');
    assert.equal((await tierOf()).tier, await rest());
  });

  it('resources/read argus://config/rate-limits equals the config', async () => {
    const { contents } = await client.readResource({ uri: 'argus://config/rate-limits' });
    const text = (contents[0] as { text: string }).text;
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(rateLimitsView(parseConfig(env.raw, {})))));
    assert.deepEqual(JSON.parse(text), (await env.api('GET', '/v1/config/rate-limits')).body);
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => r.uri).sort(), ['argus://config/features', 'argus://config/rate-limits', 'argus://config/tiers']);
  });

  it('prompts: "Check user access" and "Handle billing"', async () => {
    const { prompts } = await client.listPrompts();
    assert.deepEqual(prompts.map((p) => p.title).sort(), ['Check user access', 'Handle billing']);
    const p = await client.getPrompt({ name: 'check_user_access', arguments: { user_id: 'u1', wanted: 'feature predictions' } });
    assert.match(JSON.stringify(p.messages), /check_entitlement/);
  });

  it('a denial is a tool error with the ARGUS code; create_user is audited', async () => {
    const missing = await client.callTool({ name: 'get_user_tier', arguments: { user_id: 'nobody' } });
    assert.equal(missing.isError, true);
    assert.equal((textOf(missing) as { error: { code: string } }).error.code, 'ARGUS_NOT_FOUND');
    const created = await client.callTool({ name: 'create_user', arguments: { user_id: 'u2', tier: 'explorer', email: 'u2@example.com' } });
    assert.equal(created.isError, undefined, JSON.stringify(created));
    assert.equal((created.structuredContent as { user_id: string }).user_id, 'u2');
    assert.equal((await env.api('GET', '/v1/users/u2')).body.email, 'u2@example.com');
    const rows = (await auditRows(env)).filter((r) => r.action === 'user.create' && r.subject_id === 'u2');
    assert.deepEqual(
      rows.map((r) => r.actor),
      ['agent'],
    );
    const again = await client.callTool({ name: 'create_user', arguments: { user_id: 'u2' } });
    assert.equal((textOf(again) as { error: { code: string } }).error.code, 'ARGUS_CONFLICT');
  });

  it('a revoked key: the next tool calls are tool errors', async () => {
    assert.equal((await env.api('DELETE', `/v1/keys/${keyId}`)).status, 200);
    const code = await waitFor('a refused call', async () => {
      const r = await client.callTool({ name: 'get_user_tier', arguments: { user_id: 'u1' } });
      return r.isError ? (textOf(r) as { error: { code: string } }).error.code : undefined;
    });
    assert.match(code, /^ARGUS_(REVOKED|INVALID_API_KEY)$/);
  });

  it('logs go to stderr; closing stdin stops it cleanly', async () => {
    assert.match(stderr(), /"msg":"mcp: serving on stdio"/);
    await client.close();
    await waitFor('mcp: stopped', () => (stderr().includes('"msg":"mcp: stopped"') ? true : undefined));
  });
});

describe('argus-sidecar mcp --stdio without a credential', () => {
  it('exits 2 naming the variables', async () => {
    const env = await startControlEnv();
    try {
      const r = await runCli(['mcp', '--stdio', '--config', env.configFile], { ARGUS_MCP_TOKEN: '', ARGUS_MCP_API_KEY: '' });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /ARGUS_MCP_TOKEN or ARGUS_MCP_API_KEY/);
      const bad = await runCli(['mcp', '--stdio', '--config', env.configFile], { ARGUS_MCP_API_KEY: 'ak_live_nope' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /refused: ARGUS_INVALID_API_KEY/);
      assert.equal(bad.stdout, '');
    } finally {
      await env.stop();
    }
  });

  it('a Redis slow to connect: a wrong key is still refused as invalid, not "unavailable"', async () => {
    // The real Redis behind a forwarder that passes no bytes for the CLI's first 4.5 s
    // (longer than the authenticator's own 2 s wait for its revocation subscription):
    // the CLI's first credential check would otherwise run before the client is ready.
    let openAt = Number.POSITIVE_INFINITY;
    const sockets = new Set<Socket>();
    const slow = createServer((client) => {
      sockets.add(client);
      const timer = setTimeout(
        () => {
          const up = connect(6379, '127.0.0.1');
          sockets.add(up);
          up.on('error', () => client.destroy());
          client.on('error', () => up.destroy());
          client.pipe(up).pipe(client);
        },
        Math.max(0, openAt - Date.now()),
      );
      client.on('close', () => clearTimeout(timer));
    });
    slow.listen(0, '127.0.0.1');
    await once(slow, 'listening');
    const env = await startControlEnv();
    try {
      const url = `redis://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const file = writeRaw({ ...env.raw, redis: { ...(env.raw['redis'] as Record<string, unknown>), url } });
      openAt = Date.now() + 4500;
      const bad = await runCli(['mcp', '--stdio', '--config', file], { ARGUS_MCP_API_KEY: 'ak_live_nope' });
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, /refused: ARGUS_INVALID_API_KEY/);
    } finally {
      await env.stop();
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => slow.close(r));
    }
  });
});
