/**
 * The kill switch across sidecar processes: two real proxies share Redis; both
 * have a key's decision cached; `argus-sidecar revoke --key` (the real CLI) makes
 * both refuse it on the next request, long before their cache TTL would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { SHARED_REDIS, dropPrefix, testPrefix } from './support/auth-harness.js';
import { get } from './support/http.js';
import { waitFor } from './support/raw.js';
import { runCli, startCli, writeConfig, type StartedChild } from './support/spawn.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

describe('revocation across two sidecar processes', () => {
  const prefix = testPrefix('two-sidecars');
  const key = generateApiKey();
  let redis: Redis;
  let up: RecordingUpstream;
  let cfg: string;
  const sidecars: Array<{ proc: StartedChild; url: string }> = [];

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    up = await startUpstream();
    await projectKey(redis, prefix, key.sha256, {
      key_id: key.key_id,
      user_id: 'two-sidecar-user',
      tier: 'business',
      scopes: [],
      features: [],
      status: 'active',
    });
    // A long cache TTL: only the revocation itself can explain a refusal.
    cfg = writeConfig(
      `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nthreads: 1\nupstream: { url: ${up.url} }\nredis: { url: ${SHARED_REDIS}, key_prefix: "${prefix}" }\nauth: { cache: { ttl_ms: 600000 } }\nmetering: { enabled: false }\nroutes:\n  - path: /*\n    auth: required\n`,
    );
    for (let i = 0; i < 2; i++) {
      const proc = startCli(['proxy', '--config', cfg]);
      const port = (await proc.waitForLog('proxy listening'))['port'] as number;
      sidecars.push({ proc, url: `http://127.0.0.1:${port}` });
    }
  });
  after(async () => {
    for (const s of sidecars) {
      s.proc.child.kill('SIGTERM');
      await s.proc.exited;
    }
    await up.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('both refuse the key after `argus-sidecar revoke --key`', async () => {
    for (const s of sidecars) assert.equal((await get(`${s.url}/x`, { 'x-api-key': key.key })).status, 200);
    const r = await runCli(['revoke', '--key', key.key_id, '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { revoked: unknown }).revoked, { kind: 'key', id: key.key_id });
    for (const s of sidecars) {
      await waitFor(async () => (await get(`${s.url}/x`, { 'x-api-key': key.key })).status === 401, 5000, 'the sidecar to refuse the revoked key');
    }
  });
});
