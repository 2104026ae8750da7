/**
 * Outcome: config/standalone.yaml works as written. A key made with the
 * README's command (`keys create --standalone config/standalone-keys.yaml …`,
 * here on a copy of the shipped key file) gets 200 from a spawned `proxy
 * --config config/standalone.yaml`; no key gets 401. Ports, upstream, key file
 * and spool move through the file's own `${VAR:-default}` settings.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { errorCode, request } from './support/http.js';
import { runCli, startCli, type StartedChild } from './support/spawn.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README_COMMAND = 'keys create --standalone config/standalone-keys.yaml --user me --tier professional';

describe('config/standalone.yaml as the README says', () => {
  const dir = mkdtempSync(join(tmpdir(), 'argus-standalone-'));
  const keysFile = join(dir, 'standalone-keys.yaml');
  let app: Server;
  let proxy: StartedChild;
  let url = '';
  let key = '';

  before(async () => {
    app = createServer((req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user: req.headers['x-argus-user-id'] ?? null })),
    );
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await new Promise((r) => app.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the README documents the key command and the shipped file names the same one', () => {
    assert.ok(readFileSync(join(ROOT, 'README.md'), 'utf8').includes(README_COMMAND));
    assert.ok(readFileSync(join(ROOT, 'config/standalone.yaml'), 'utf8').includes(README_COMMAND));
    assert.ok(readFileSync(join(ROOT, 'config/standalone-keys.yaml'), 'utf8').includes(README_COMMAND));
  });

  it('keys create --standalone prints a key once and appends only its digest', async () => {
    copyFileSync(join(ROOT, 'config/standalone-keys.yaml'), keysFile);
    const args = README_COMMAND.replace('config/standalone-keys.yaml', keysFile).split(' ');
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { key_id: string; key: string };
    assert.match(out.key, /^ak_live_[0-9A-Za-z]{43}$/);
    key = out.key;
    const text = readFileSync(keysFile, 'utf8');
    assert.ok(!text.includes(key), 'the key itself is never stored');
    assert.match(text, new RegExp(`- key_id: "${out.key_id}"\\n  user_id: "me"\\n  tier: "professional"`));
  });

  it('proxy --config config/standalone.yaml: 200 with the key, 401 without', async () => {
    assert.ok(key, 'the key from the previous test');
    proxy = startCli(['proxy', '--config', join(ROOT, 'config/standalone.yaml')], {
      ARGUS_LISTEN_PORT: '0',
      ARGUS_ADMIN_PORT: '0',
      ARGUS_UPSTREAM_URL: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
      ARGUS_KEYS_FILE: keysFile,
      ARGUS_SPOOL_DIR: join(dir, 'spool'),
    });
    const rec = await proxy.waitForLog('proxy listening', 30000);
    url = `http://127.0.0.1:${rec['port']}`;
    const ok = await request(`${url}/v1/anything`, { headers: { 'x-api-key': key } });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { user: 'me' });
    const no = await request(`${url}/v1/anything`);
    assert.equal(no.status, 401);
    assert.equal(errorCode(no), 'ARGUS_UNAUTHENTICATED');
    assert.equal((await request(`${url}/healthz`)).status, 200);
  });
});
