/**
 * Acceptance (issue 24) against a spawned `control` and a spawned `proxy`
 * sharing real Redis and Postgres:
 * - a user created with tier explorer and a key: 11 requests → 200, the 12th → 429;
 * - `POST /v1/users/u2/keys`: the key authenticates on the very next request;
 * - `DELETE /v1/keys/{id}` closes a WebSocket session using the key with 4403;
 * - `DEL` of every user projection: the reconciler restores them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from './support/raw.js';
import { get } from './support/http.js';
import { startControlEnv, type ControlEnv } from './support/control.js';
import { startIdentityUpstream, type IdentityUpstream } from './support/identity-upstream.js';
import { startCli, type StartedChild } from './support/spawn.js';
import { connectWs } from './support/ws-upstream.js';

describe('control plane → sidecar', () => {
  let env: ControlEnv;
  let up: IdentityUpstream;
  let proxy: StartedChild;
  let sidecar: string;

  before(async () => {
    up = await startIdentityUpstream();
    env = await startControlEnv({ upstream: up.url });
    proxy = startCli(['proxy', '--config', env.configFile]);
    sidecar = `127.0.0.1:${(await proxy.waitForLog('proxy listening'))['port']}`;
  });
  after(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await env?.stop();
    await up?.close();
  });

  it('explorer: 11 requests pass, the 12th gets 429', async () => {
    assert.equal((await env.api('POST', '/v1/users', { body: { user_id: 'u1', tier: 'explorer' } })).status, 201);
    const created = await env.api('POST', '/v1/users/u1/keys', { body: {} });
    assert.equal(created.status, 201);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(`http://${sidecar}/v1/thing`, { 'x-api-key': created.body.key })).status);
    assert.deepEqual(statuses, [...Array(11).fill(200), 429]);
    assert.equal(up.seen.at(-1)?.['x-argus-tier'], 'explorer');
  });

  it('a key created through the API authenticates on the very next request', async () => {
    assert.equal((await env.api('POST', '/v1/users', { body: { user_id: 'u2', tier: 'professional' } })).status, 201);
    const created = await env.api('POST', '/v1/users/u2/keys', { body: {} });
    const r = await get(`http://${sidecar}/v1/thing`, { 'x-api-key': created.body.key });
    assert.equal(r.status, 200);
    assert.equal(up.seen.at(-1)?.['x-argus-user-id'], 'u2');
  });

  it('DELETE /v1/keys/{id} closes a WebSocket session using the key with 4403', async () => {
    const created = await env.api('POST', '/v1/users/u2/keys', { body: {} });
    const ws = await connectWs(`ws://${sidecar}/ws/feed`, [], { headers: { 'x-api-key': created.body.key } });
    ws.ws.send('ping');
    await waitFor(() => ws.messages.length > 0, 5000, 'the echo through the sidecar');
    const revoked = await env.api('DELETE', `/v1/keys/${created.body.api_key.key_id}`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.status, 'revoked');
    const closed = await Promise.race([ws.closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    assert.equal(closed?.code, 4403);
    assert.equal((await get(`http://${sidecar}/v1/thing`, { 'x-api-key': created.body.key })).status, 401);
  });

  it('DEL of every user projection: the reconciler restores them', async () => {
    await env.api('PATCH', '/v1/users/u1', { body: { tier: 'professional' } });
    const keys = await env.redis.keys(`${env.prefix}auth:user:*`);
    assert.ok(keys.length >= 3, keys.join(','));
    await env.redis.del(keys);
    await waitFor(async () => (await env.redis.exists(keys)) === keys.length, 10000, 'the reconciler to restore every user record');
    const u1 = JSON.parse((await env.redis.get(`${env.prefix}auth:user:u1`))!);
    assert.equal(u1.tier, 'professional');
    const restored = await fetch(`${env.adminUrl}/metrics`).then((r) => r.text());
    assert.match(restored, /argus_control_reconciled_total\{kind="user"\} [1-9]/);
  });
});
