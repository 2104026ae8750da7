/**
 * Identity headers the app might trust never reach it from the client: the
 * built-in strip list (src/forward/strip.ts: X-User-Id, X-Real-IP, Forwarded…)
 * and `x-argus-*` are removed on auth-none, optional and required routes, a route
 * can add names, and X-Forwarded-* carry only what the sidecar itself knows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FORGEABLE_IDENTITY_HEADERS, startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

const FORGED = [...FORGEABLE_IDENTITY_HEADERS, 'X-Argus-User-Id'];
const forgedLines = FORGED.map((h, i) => `${i % 2 ? h.toLowerCase() : h.toUpperCase()}: forged-${i}\r\n`).join('');
const SPOOFED_FORWARDING = 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\n';

async function send(gate: Gate, path: string, creds: string, extra = '') {
  const rid = `id-${Math.random().toString(36).slice(2)}`;
  const r = await rawRequest(
    gate.proxy.port,
    `GET ${path} HTTP/1.1\r\nHost: api.example.test\r\nX-Request-Id: ${rid}\r\n${creds}${forgedLines}${SPOOFED_FORWARDING}${extra}Connection: close\r\n\r\n`,
  );
  return { status: r.status, seen: gate.up.seen.find((s) => s.headers['x-request-id'] === rid) };
}

describe('identity headers are stripped (default list)', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({
      routes: [
        { path: '/none/*', auth: 'none' },
        { path: '/opt/*', auth: 'optional' },
        { path: '/req/*', auth: 'required' },
        { path: '/tenant/*', auth: 'none', strip_request_headers: ['X-Tenant-Id'] },
      ],
    });
  });
  after(() => gate.close());

  const cases = [
    ['/none/x', 'anonymous'],
    ['/opt/x', 'anonymous'],
    ['/opt/x', 'user'],
    ['/req/x', 'user'],
    ['/req/x', 'admin'],
  ] as const;
  for (const [path, id] of cases) {
    it(`${path} as ${id}: none of the forged headers reaches the upstream; X-Forwarded-* are the sidecar's`, async () => {
      const { status, seen } = await send(gate, path, gate.ids[id]);
      assert.equal(status, 200);
      assert.ok(seen, 'forwarded');
      for (const h of FORGED) {
        const v = seen.headers[h.toLowerCase()];
        assert.ok(v === undefined || !v.startsWith('forged'), `${h} reached the upstream: ${v}`);
      }
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-host'], 'api.example.test');
      assert.equal(seen.headers['x-argus-user-id'], id === 'anonymous' ? undefined : id === 'admin' ? 'u_admin' : 'u_user');
    });
  }

  it('a route adds its own names; other routes keep them', async () => {
    const stripped = await send(gate, '/tenant/x', '', 'X-Tenant-Id: t-forged\r\n');
    assert.equal(stripped.seen!.headers['x-tenant-id'], undefined);
    const kept = await send(gate, '/none/x', '', 'X-Tenant-Id: t-1\r\n');
    assert.equal(kept.seen!.headers['x-tenant-id'], 't-1');
  });
});

describe('server.strip_request_headers and trust_forwarded', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({
      server: { trust_forwarded: true, strip_request_headers: ['X-Custom-Identity'], forward_request_headers: ['X-Real-IP'] },
      routes: [{ path: '/*', auth: 'none' }],
    });
  });
  after(() => gate.close());

  it('a configured list adds to the built-in one; forward_request_headers lets only the named one through', async () => {
    const { seen } = await send(gate, '/x', '', 'x-CUSTOM-identity: me\r\n');
    assert.equal(seen!.headers['x-custom-identity'], undefined);
    assert.equal(seen!.headers['x-argus-user-id'], undefined);
    // Naming headers of its own does not forward the built-in identity headers.
    assert.equal(seen!.headers['x-user-id'], undefined);
    assert.equal(seen!.headers['forwarded'], undefined);
    assert.ok(seen!.headers['x-real-ip']?.startsWith('forged'), 'forward_request_headers names x-real-ip');
  });

  it('trust_forwarded extends X-Forwarded-For and keeps the proto; X-Forwarded-Host is still the Host', async () => {
    const { seen } = await send(gate, '/x', '');
    assert.equal(seen!.headers['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
    assert.equal(seen!.headers['x-forwarded-proto'], 'https');
    assert.equal(seen!.headers['x-forwarded-host'], 'api.example.test');
  });
});
