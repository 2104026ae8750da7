/**
 * WebSocket upgrades carry no client-made identity to the upstream: the
 * `server.strip_request_headers` list (and a route's own additions) is applied to
 * the upgrade as it is to plain requests, and a query credential accepted on a
 * `query_token` route is removed in every spelling of its name (`Access_Token`,
 * `access%5Ftoken`), not only as `access_token`. A `bearer.<token>` subprotocol
 * entry is a credential in any case (`Bearer.`, `BEARER.`): it authenticates and
 * never reaches the upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/index.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { rawWs, startWsUpstream, upgradeRequest, type WsUpstream } from './support/ws-upstream.js';

const FORGED = [
  'x-user-id',
  'x-forwarded-user',
  'x-auth-request-user',
  'x-remote-user',
  'remote-user',
  'x-real-ip',
  'x-original-url',
  'x-forwarded-uri',
  'x-forwarded-prefix',
  'forwarded',
  'x-tenant-id',
];

describe('WebSocket upgrades: identity headers and query credentials never reach the upstream', () => {
  let up: WsUpstream;
  let proxy: TestProxy;
  let dir: string;
  const user = generateApiKey();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'argus-ws-id-'));
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, `- { key_id: ${user.key_id}, sha256: ${user.sha256}, user_id: u_user, tier: business }\n`);
    up = await startWsUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      auth: { api_keys: { file } },
      ratelimit: { enabled: false },
      routes: [
        { path: '/ws/none/*', auth: 'none', websocket: {}, strip_request_headers: ['X-Tenant-Id'] },
        { path: '/ws/req/*', auth: 'required', websocket: {}, strip_request_headers: ['X-Tenant-Id'] },
        { path: '/ws/q/*', auth: 'required', websocket: { query_token: true } },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [path, creds] of [
    ['/ws/none/a', {}],
    ['/ws/req/b', { 'x-api-key': user.key }],
  ] as const) {
    it(`${path}: forged identity headers are stripped from the upgrade`, async () => {
      const forged: Record<string, string> = {};
      FORGED.forEach((h, i) => {
        forged[i % 2 ? h.toUpperCase() : h] = `forged-${i}`;
      });
      const c = await rawWs(proxy.port, upgradeRequest(path, { ...creds, ...forged, 'x-argus-user-id': 'u_admin' }));
      assert.equal(c.status(), 101, c.head());
      await waitFor(() => up.upgrades.some((u) => u.url === path), 5000, 'the upgrade upstream');
      const seen = up.upgrades.find((u) => u.url === path)!;
      for (const h of FORGED) {
        const v = seen.headers[h];
        assert.ok(v === undefined || !String(v).includes('forged'), `${h} reached the upstream: ${String(v)}`);
      }
      assert.equal(seen.headers['x-argus-user-id'], path.startsWith('/ws/req') ? 'u_user' : undefined);
      c.destroy();
    });
  }

  for (const name of ['access_token', 'Access_Token', 'ACCESS_TOKEN', 'access%5Ftoken', 'access%5ftoken']) {
    it(`?${name}=<key> authenticates and is removed from the upgrade's query`, async () => {
      const path = `/ws/q/${encodeURIComponent(name)}`;
      const c = await rawWs(proxy.port, upgradeRequest(`${path}?a=1&${name}=${user.key}&b=2`));
      assert.equal(c.status(), 101, c.head());
      await waitFor(() => up.upgrades.some((u) => u.url.startsWith(`${path}?`)), 5000, 'the upgrade upstream');
      const seen = up.upgrades.find((u) => u.url.startsWith(`${path}?`))!;
      assert.ok(!seen.url.includes(user.key), `the key reached the upstream: ${seen.url}`);
      assert.equal(seen.url, `${path}?a=1&b=2`);
      c.destroy();
    });
  }

  for (const prefix of ['bearer.', 'Bearer.', 'BEARER.']) {
    it(`subprotocol ${prefix}<key> authenticates and is not offered to the upstream`, async () => {
      const path = `/ws/req/p-${prefix.slice(0, 3)}`;
      const c = await rawWs(proxy.port, upgradeRequest(path, { 'sec-websocket-protocol': `chat, ${prefix}${user.key}` }));
      assert.equal(c.status(), 101, c.head());
      await waitFor(() => up.upgrades.some((u) => u.url === path), 5000, 'the upgrade upstream');
      const seen = up.upgrades.find((u) => u.url === path)!;
      assert.equal(seen.headers['sec-websocket-protocol'], 'chat');
      assert.equal(seen.headers['x-argus-user-id'], 'u_user');
      c.destroy();
    });
  }

  it('a second credential as a Bearer. subprotocol next to X-Api-Key → 401, nothing reaches the upstream', async () => {
    const before = up.seen();
    const c = await rawWs(
      proxy.port,
      upgradeRequest('/ws/req/two', { 'x-api-key': user.key, 'sec-websocket-protocol': 'chat, Bearer.eyJhbGciOiJSUzI1NiJ9.e30.sig' }),
    );
    assert.equal(c.status(), 401, c.head());
    c.destroy();
    assert.equal(up.seen(), before);
  });
});
