/**
 * The kill switch inside one sidecar with `threads: 2`: each thread has its own
 * L1 decision cache and its own revocation subscription, so after
 * `argus-sidecar revoke --key` no thread keeps serving the key from its cache.
 * Connections (not requests) are spread over the threads by the kernel, so every
 * probe opens its own.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { SHARED_REDIS, dropPrefix, testPrefix } from './support/auth-harness.js';
import { waitFor } from './support/raw.js';
import { runCli, startCli, writeConfig, type StartedChild } from './support/spawn.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

/** One request on a connection of its own. */
function status(port: number, apiKey: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/x', headers: { 'x-api-key': apiKey }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

const burst = (port: number, apiKey: string, n = 24) => Promise.all(Array.from({ length: n }, () => status(port, apiKey)));

describe('revocation reaches every thread of a sidecar', () => {
  const prefix = testPrefix('revoke-threads');
  const key = generateApiKey();
  let redis: Redis;
  let up: RecordingUpstream;
  let cfg: string;
  let proc: StartedChild;
  let port: number;

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    up = await startUpstream();
    await projectKey(redis, prefix, key.sha256, { key_id: key.key_id, user_id: 'threads-user', tier: 'business', scopes: [], features: [], status: 'active' });
    // A long cache TTL: only the revocation itself can explain a refusal.
    cfg = writeConfig(
      `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nthreads: 2\nupstream: { url: ${up.url} }\nredis: { url: ${SHARED_REDIS}, key_prefix: "${prefix}" }\nauth: { cache: { ttl_ms: 600000 } }\nmetering: { enabled: false }\nroutes:\n  - path: /*\n    auth: required\n`,
    );
    proc = startCli(['proxy', '--config', cfg]);
    port = (await proc.waitForLog('proxy listening'))['port'] as number;
  });
  after(async () => {
    proc.child.kill('SIGTERM');
    await proc.exited;
    await up.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('no thread serves the key from its cache after `argus-sidecar revoke --key`', async () => {
    // Both threads cache the decision (24 connections: both threads take some).
    assert.deepEqual(new Set(await burst(port, key.key)), new Set([200]));
    const r = await runCli(['revoke', '--key', key.key_id, '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => (await burst(port, key.key)).every((s) => s === 401), 5000, 'every connection, on either thread, to get 401');
    // And it stays so: a second round of fresh connections, all refused.
    assert.deepEqual(new Set(await burst(port, key.key)), new Set([401]));
  });
});
