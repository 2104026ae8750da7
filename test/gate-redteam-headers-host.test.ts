/**
 * The class, not the listed example: identity headers as other gateways name them
 * (oauth2-proxy, ALB, IAP, Azure, Cloudflare), CDN client-address headers and
 * method overrides never reach the upstream, in any spelling case; a Host whose
 * port is 0 or above 65535 is 400 ARGUS_BAD_HOST and reaches nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

const CLASS = [
  'X-Forwarded-Email',
  'X-Forwarded-Groups',
  'X-Forwarded-Preferred-Username',
  'X-Forwarded-Access-Token',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Access-Token',
  'X-Amzn-Oidc-Identity',
  'X-Amzn-Oidc-Data',
  'X-Goog-Authenticated-User-Email',
  'X-Ms-Client-Principal-Name',
  'X-Ms-Client-Principal-Id',
  'Cf-Access-Authenticated-User-Email',
  'Remote-Email',
  'Remote-Groups',
  'X-Remote-Group',
  'X-Webauth-User',
  'True-Client-IP',
  'CF-Connecting-IP',
  'X-Client-IP',
  'X-Cluster-Client-IP',
  'X-Original-Host',
  'X-HTTP-Method-Override',
  'X-HTTP-Method',
  'X-Method-Override',
];

describe('identity class, method overrides, Host port range', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate();
  });
  after(() => gate.close());

  for (const [id, path] of [
    ['anonymous', '/pub/x'],
    ['admin', '/admin/x'],
  ] as const) {
    it(`${path} as ${id}: none of ${CLASS.length} identity/override headers reaches the upstream`, async () => {
      const rid = `cls-${id}-${Math.random().toString(36).slice(2)}`;
      const lines = CLASS.map((h, i) => `${i % 3 === 0 ? h.toLowerCase() : i % 3 === 1 ? h.toUpperCase() : h}: forged-${i === 22 ? 'DELETE' : i}\r\n`).join('');
      const r = await rawRequest(
        gate.proxy.port,
        `GET ${path} HTTP/1.1\r\nHost: a.test\r\nX-Request-Id: ${rid}\r\n${gate.ids[id]}${lines}Connection: close\r\n\r\n`,
      );
      assert.equal(r.status, 200, r.response);
      const seen = gate.up.seen.find((s) => s.headers['x-request-id'] === rid);
      assert.ok(seen, 'forwarded');
      for (const h of CLASS) assert.equal(seen.headers[h.toLowerCase()], undefined, `${h} reached the upstream`);
      assert.equal(seen.method, 'GET');
    });
  }

  for (const host of ['a.test:0', 'a.test:65536', 'a.test:99999', 'a.test:00000', '[::1]:0', '[::1]:70000']) {
    it(`Host ${host} → 400, nothing forwarded`, async () => {
      const rid = `port-${Math.random().toString(36).slice(2)}`;
      const r = await rawRequest(gate.proxy.port, `GET /pub/x HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: ${rid}\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 400, r.response);
      assert.match(r.response, /ARGUS_BAD_HOST/);
      assert.equal(
        gate.up.seen.find((s) => s.headers['x-request-id'] === rid),
        undefined,
      );
    });
  }

  for (const host of ['a.test:1', 'a.test:65535', '[::1]:8080', '[::1]', 'A.TEST', 'a.test.']) {
    it(`Host ${host} is served`, async () => {
      const r = await rawRequest(gate.proxy.port, `GET /pub/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 200, r.response);
    });
  }
});
