/**
 * Acceptance (issue 26, MCP over HTTP) against two control processes on the
 * same Postgres and Redis behind a per-request round-robin balancer:
 * - no bearer → 401 whose `WWW-Authenticate` names the protected-resource
 *   metadata URL; that URL answers RFC 9728 JSON naming the authorization
 *   server (the Cognito issuer from auth.jwt.issuer);
 * - a key with only argus:mcp:read calling create_user → 403
 *   `insufficient_scope` (scope argus:mcp:write), while get_user_tier works;
 * - an SDK Client completes initialize → tools/call with its requests spread
 *   over both replicas (no affinity);
 * - a JWT (client credentials of another MCP server) with scope
 *   argus:mcp:read is accepted, one without MCP scopes is refused 403;
 * - a tool call is a usage event of its caller in the ledger, route
 *   `mcp:<tool>` (control spool → BullMQ → a spawned worker → Postgres).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SESSION_SECRET, startControlEnv, writeRaw, type ControlEnv } from './support/control.js';
import { makeSigningKey, signCompact } from './support/jwks-server.js';
import { READ, WRITE, agentKey, httpClient } from './support/mcp.js';
import { rand, spawnWorker, tempDir, waitFor, type WorkerProcess } from './support/meter-env.js';
import { startRoundRobin, type RoundRobin } from './support/round-robin.js';
import { startCli, type StartedChild } from './support/spawn.js';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_MCPTEST';
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};
const rpcHeaders = (bearer?: string) => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...(bearer !== undefined && { authorization: `Bearer ${bearer}` }),
});

describe('MCP over HTTP, two replicas behind round-robin', () => {
  const tmp = tempDir();
  const signer = makeSigningKey('ES256');
  let env: ControlEnv;
  let second: StartedChild;
  let worker: WorkerProcess;
  let lb: RoundRobin;
  let readKey: string;
  let fullKey: string;
  let client: Client | undefined;
  before(async () => {
    const jwks = join(tmp.dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [signer.publicJwk] }));
    const metering = {
      enabled: true,
      queue: `usage-${rand()}`,
      spool_dir: join(tmp.dir, 'a'),
      flush_interval_ms: 5,
      worker: { admin: { host: '127.0.0.1', port: 0 } },
    };
    const auth = { session: { secret: SESSION_SECRET }, jwt: { jwks_file: jwks, issuer: ISSUER } };
    env = await startControlEnv({ extra: { metering, auth } });
    // The second replica: same database, Redis prefix and queue; its own spool directory (one owner per directory).
    second = startCli(['control', '--config', writeRaw({ ...env.raw, metering: { ...metering, spool_dir: join(tmp.dir, 'b') } })]);
    const started = await second.waitForLog('control: started', 30000);
    worker = spawnWorker(env.configFile);
    await worker.started;
    lb = await startRoundRobin([env.url, `http://127.0.0.1:${started['internal_port']}`]);
    readKey = await agentKey(env, 'reader', [READ]);
    fullKey = await agentKey(env, 'agent', [READ, WRITE]);
    assert.equal((await env.api('POST', '/v1/users', { body: { user_id: 'u1', tier: 'explorer' } })).status, 201);
  });
  after(async () => {
    await client?.close();
    await lb?.close();
    worker?.proc.kill('SIGTERM');
    await worker?.exited;
    second?.child.kill('SIGTERM');
    await second?.exited;
    await env?.stop();
    tmp.remove();
  });

  it('no bearer: 401 naming the metadata, which names the authorization server', async () => {
    const res = await fetch(`${lb.url}/mcp`, { method: 'POST', headers: rpcHeaders(), body: JSON.stringify(initialize) });
    assert.equal(res.status, 401);
    const www = res.headers.get('www-authenticate') ?? '';
    const m = /^Bearer .*resource_metadata="([^"]+)"/.exec(www);
    assert.ok(m, www);
    assert.equal(new URL(m[1]!).pathname, '/.well-known/oauth-protected-resource/mcp');
    const meta = await fetch(new URL(new URL(m[1]!).pathname, lb.url));
    assert.equal(meta.status, 200);
    const body = (await meta.json()) as { resource: string; authorization_servers: string[]; scopes_supported: string[] };
    assert.deepEqual(body.authorization_servers, [ISSUER]);
    assert.equal(new URL(body.resource).pathname, '/mcp');
    assert.deepEqual(body.scopes_supported, [READ, WRITE]);
  });

  it('a key with only argus:mcp:read: create_user → 403 insufficient_scope, get_user_tier works', async () => {
    const call = (name: string, args: unknown) =>
      fetch(`${lb.url}/mcp`, {
        method: 'POST',
        headers: rpcHeaders(readKey),
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }),
      });
    const denied = await call('create_user', { user_id: 'u9' });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="${WRITE}"`);
    assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'ARGUS_FORBIDDEN');
    assert.equal((await env.api('GET', '/v1/users/u9')).status, 404);
    const reader = await httpClient(`${lb.url}/mcp`, readKey);
    try {
      const r = await reader.callTool({ name: 'get_user_tier', arguments: { user_id: 'u1' } });
      assert.equal((r.structuredContent as { tier: string }).tier, 'explorer');
    } finally {
      await reader.close();
    }
  });

  it('initialize → tools/list → tools/call with requests on both replicas', async () => {
    const from = lb.hits.length;
    client = await httpClient(`${lb.url}/mcp`, fullKey);
    const { tools } = await client.listTools();
    assert.equal(tools.length, 11);
    const r = await client.callTool({ name: 'get_user_tier', arguments: { user_id: 'u1' } });
    assert.deepEqual(r.structuredContent, { user_id: 'u1', tier: 'explorer', effective_tier: 'explorer' });
    const mine = lb.hits.slice(from);
    assert.ok(mine.length >= 3, `requests: ${mine.length}`);
    assert.deepEqual([...new Set(mine)].sort(), [0, 1], `replicas hit: ${mine.join(',')}`);
  });

  it('a JWT with scope argus:mcp:read is accepted; one without MCP scopes is refused 403', async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = (scope: string) => signCompact({ alg: 'ES256', kid: signer.kid }, { sub: 'agent', iss: ISSUER, iat: now, exp: now + 600, scope }, signer);
    const ok = await fetch(`${lb.url}/mcp`, { method: 'POST', headers: rpcHeaders(jwt(`openid ${READ}`)), body: JSON.stringify(initialize) });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(((await ok.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name, 'argus');
    const none = await fetch(`${lb.url}/mcp`, { method: 'POST', headers: rpcHeaders(jwt('openid')), body: JSON.stringify(initialize) });
    assert.equal(none.status, 403);
    assert.equal(none.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="${READ}"`);
  });

  it('a tool call is a usage event of its caller, route mcp:<tool>', async () => {
    const c = await httpClient(`${lb.url}/mcp`, fullKey);
    try {
      await c.callTool({ name: 'get_user_profile', arguments: { user_id: 'u1' } });
    } finally {
      await c.close();
    }
    const row = await waitFor(
      'the ledger row',
      async () =>
        (
          await env.db.pool.query<{ user_id: string; kind: string; status: number }>(
            "SELECT user_id, kind, status FROM usage_events WHERE route = 'mcp:get_user_profile'",
          )
        ).rows[0],
      60000,
      100,
    );
    assert.deepEqual(row, { user_id: 'agent', kind: 'request', status: 200 });
  });
});
