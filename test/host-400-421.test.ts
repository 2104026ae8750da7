/**
 * Host: exactly one, non-empty, a valid authority without userinfo, else 400
 * ARGUS_BAD_HOST; with `server.allowed_hosts`, any other host is 421
 * ARGUS_HOST_NOT_ALLOWED. X-Forwarded-Host is the validated Host. Nothing refused
 * reaches the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

async function send(gate: Gate, hostLines: string) {
  const rid = `host-${Math.random().toString(36).slice(2)}`;
  const r = await rawRequest(gate.proxy.port, `GET /pub/x HTTP/1.1\r\n${hostLines}X-Request-Id: ${rid}\r\nConnection: close\r\n\r\n`);
  const code = /"code":"([A-Z_]+)"/.exec(r.response)?.[1];
  return { status: r.status, code, seen: gate.up.seen.find((s) => s.headers['x-request-id'] === rid) };
}

describe('Host validation', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate();
  });
  after(() => gate.close());

  for (const [name, lines] of [
    ['two Host headers', 'Host: a.test\r\nHost: b.test\r\n'],
    ['two equal Host headers', 'Host: a.test\r\nHost: a.test\r\n'],
    ['an empty Host', 'Host:\r\n'],
    ['userinfo in Host', 'Host: user@evil.test\r\n'],
    ['userinfo with password', 'Host: user:pw@evil.test\r\n'],
    ['a path in Host', 'Host: evil.test/x\r\n'],
    ['a space in Host', 'Host: a b\r\n'],
    ['a bad port', 'Host: a.test:80x\r\n'],
  ] as const) {
    it(`${name}: 400 ARGUS_BAD_HOST, upstream untouched`, async () => {
      const r = await send(gate, lines);
      assert.equal(r.status, 400);
      assert.equal(r.code, 'ARGUS_BAD_HOST');
      assert.equal(r.seen, undefined);
    });
  }

  for (const host of ['api.example.test', 'api.example.test:8443', '127.0.0.1:8080', '[::1]:8080', 'localhost']) {
    it(`${host}: served, X-Forwarded-Host is the Host`, async () => {
      const r = await send(gate, `Host: ${host}\r\n`);
      assert.equal(r.status, 200);
      assert.equal(r.seen!.headers['x-forwarded-host'], host);
      assert.equal(r.seen!.headerLines.filter((l) => /^host:/i.test(l)).length, 1);
    });
  }
});

describe('server.allowed_hosts', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({ server: { allowed_hosts: ['api.example.test', 'admin.example.test:9443'] } });
  });
  after(() => gate.close());

  it('a listed host is served (case-insensitive, any port when listed without one)', async () => {
    for (const h of ['api.example.test', 'API.Example.Test', 'api.example.test:8443', 'admin.example.test:9443'])
      assert.equal((await send(gate, `Host: ${h}\r\n`)).status, 200, h);
  });
  it('any other host: 421 ARGUS_HOST_NOT_ALLOWED, upstream untouched', async () => {
    for (const h of ['evil.test', 'api.example.test.evil.test', 'admin.example.test:443', '127.0.0.1']) {
      const r = await send(gate, `Host: ${h}\r\n`);
      assert.equal(r.status, 421, h);
      assert.equal(r.code, 'ARGUS_HOST_NOT_ALLOWED');
      assert.equal(r.seen, undefined);
    }
  });
});
