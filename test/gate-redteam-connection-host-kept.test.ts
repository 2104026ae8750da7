/**
 * Hop-by-hop abuse: `Connection` may name headers the client sent, but never the
 * validated Host. `Connection: host` used to drop the client's Host, so the
 * upstream saw its own address (`127.0.0.1:port`), which apps treat as "local";
 * now the upstream sees the Host the sidecar judged, in every case spelling of
 * the token, and the headers the sidecar adds itself stay whatever Connection names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

describe("Connection cannot remove Host or the sidecar's own headers", () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate();
  });
  after(() => gate.close());

  for (const tokens of [
    'host',
    'Host',
    'HOST, keep-alive',
    'close, host',
    'x-forwarded-for, x-forwarded-host, x-request-id, x-argus-user-id, x-argus-role, host',
  ]) {
    for (const [id, path] of [
      ['anonymous', '/pub/x'],
      ['admin', '/admin/x'],
    ] as const) {
      it(`Connection: ${tokens} (${id}) → the upstream sees Host api.example.test and the sidecar's headers`, async () => {
        const rid = `conn-${Math.random().toString(36).slice(2)}`;
        const r = await rawRequest(
          gate.proxy.port,
          `GET ${path} HTTP/1.1\r\nHost: api.example.test\r\nX-Request-Id: ${rid}\r\n${gate.ids[id]}Connection: ${tokens}\r\n\r\n`,
          800,
        );
        assert.equal(r.status, 200, r.response);
        const seen = gate.up.seen.find((s) => s.headers['x-request-id'] === rid);
        assert.ok(seen, 'forwarded');
        assert.equal(seen.headers['host'], 'api.example.test');
        assert.equal(seen.headers['x-forwarded-host'], 'api.example.test');
        assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
        assert.equal(seen.headers['x-argus-user-id'], id === 'admin' ? 'u_admin' : undefined);
        assert.equal(seen.headers['connection'], undefined);
      });
    }
  }
});
