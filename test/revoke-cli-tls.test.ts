/**
 * `argus-sidecar revoke` against a Redis that speaks only TLS (`rediss://`, as
 * managed Redis services require): the lean RESP client connects over node:tls,
 * verifies the server's certificate (a self-signed one is trusted only through
 * NODE_EXTRA_CA_CERTS), writes the deny state and publishes it. An untrusted
 * certificate is exit 1 with one line, and nothing is written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisKeys } from '../src/authenticate/store.js';
import { runCli, startTlsRedis, testPrefix, until } from './support/auth-harness.js';

describe('revoke CLI over rediss://', () => {
  const prefix = testPrefix('revoke-tls');
  const dir = mkdtempSync(join(tmpdir(), 'argus-revoke-tls-'));
  let server: Awaited<ReturnType<typeof startTlsRedis>>;
  let redis: Redis;
  let sub: Redis;
  let config: string;
  const heard: string[] = [];

  before(async () => {
    server = await startTlsRedis(dir);
    redis = new Redis(server.url, { tls: { ca: server.ca } });
    sub = new Redis(server.url, { tls: { ca: server.ca } });
    sub.on('message', (_channel: string, message: string) => heard.push(message));
    await sub.subscribe(redisKeys(prefix).channel);
    config = join(dir, 'argus.yaml');
    writeFileSync(
      config,
      `upstream: { url: "http://127.0.0.1:1" }\nredis: { url: "${server.url}", key_prefix: "${prefix}" }\nroutes: [{ path: "/*", auth: required }]\n`,
    );
  });

  after(async () => {
    sub?.disconnect();
    redis?.disconnect();
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with the CA trusted: exit 0, deny state written and published over TLS', async () => {
    const r = await runCli(['revoke', '--user', 'u_tls', '--config', config], { NODE_EXTRA_CA_CERTS: server.caFile });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { revoked: { kind: 'user', id: 'u_tls' }, subscribers: 1 });
    assert.ok(Number(await redis.get(redisKeys(prefix).deny('user', 'u_tls'))) > 0);
    await until(() => heard.some((m) => JSON.parse(m).id === 'u_tls'), 'the revocation on the channel');
  });

  it('with the certificate untrusted: exit 1, one line naming redis, nothing written', async () => {
    const r = await runCli(['revoke', '--user', 'u_untrusted', '--config', config], { NODE_EXTRA_CA_CERTS: '' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^argus-sidecar revoke: redis: .*(self[- ]signed|certificate)[^\n]*\n$/i);
    assert.equal(await redis.exists(redisKeys(prefix).deny('user', 'u_untrusted')), 0);
  });
});
