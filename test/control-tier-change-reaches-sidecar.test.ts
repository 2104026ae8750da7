/**
 * Acceptance (issue 24): a tier change reaches every sidecar within a second.
 * A user with tier explorer and a key; two spawned proxies have the key's
 * decision cached (TTL 60 s here, so only the change message can explain the
 * switch); `PATCH /v1/users/u1 {tier: professional}` → on both, the next
 * request through the same key gets 200 with the professional
 * `RateLimit-Policy` and the upstream sees `x-argus-tier: professional`.
 *
 * Needs the sidecar side of the change channel (cache eviction on
 * `<prefix>auth:changes`, keys inheriting their owner's tier).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { get } from './support/http.js';
import { waitFor } from './support/raw.js';
import { startControlEnv, writeRaw, type ControlEnv } from './support/control.js';
import { startIdentityUpstream, type IdentityUpstream } from './support/identity-upstream.js';
import { startCli, type StartedChild } from './support/spawn.js';

describe('a tier change reaches every sidecar within 1 s', () => {
  let env: ControlEnv;
  let up: IdentityUpstream;
  const proxies: StartedChild[] = [];
  const sidecars: string[] = [];

  before(async () => {
    up = await startIdentityUpstream();
    env = await startControlEnv({ upstream: up.url });
    const raw = { ...env.raw, auth: { ...(env.raw['auth'] as object), cache: { ttl_ms: 60000 } } };
    const file = writeRaw(raw);
    for (let i = 0; i < 2; i++) {
      const p = startCli(['proxy', '--config', file]);
      proxies.push(p);
      sidecars.push(`http://127.0.0.1:${(await p.waitForLog('proxy listening'))['port']}`);
    }
  });
  after(async () => {
    for (const p of proxies) p.child.kill('SIGTERM');
    await Promise.all(proxies.map((p) => p.exited));
    await env?.stop();
    await up?.close();
  });

  it('PATCH tier professional: the next request through the same key is professional on both sidecars', async () => {
    await env.api('POST', '/v1/users', { body: { user_id: 'u1', tier: 'explorer' } });
    const key = (await env.api('POST', '/v1/users/u1/keys', { body: {} })).body.key as string;
    for (const s of sidecars) {
      const r = await get(`${s}/v1/x`, { 'x-api-key': key });
      assert.equal(r.status, 200);
      assert.match(String(r.headers['ratelimit-policy']), /^"explorer"/);
    }
    assert.equal((await env.api('PATCH', '/v1/users/u1', { body: { tier: 'professional' } })).status, 200);
    for (const s of sidecars) {
      await waitFor(
        async () => {
          const r = await get(`${s}/v1/x`, { 'x-api-key': key });
          return r.status === 200 && String(r.headers['ratelimit-policy']).startsWith('"professional"') && up.seen.at(-1)?.['x-argus-tier'] === 'professional';
        },
        1000,
        'the professional tier at the sidecar within 1 s',
      );
    }
  });
});
