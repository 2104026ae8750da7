/**
 * Request hygiene: ambiguous or oversized requests are refused with the JSON error
 * body (or dropped by uWS's own parser before the sidecar sees them), the
 * connection is closed, and the upstream never sees anything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { rawJson, rawRequest } from './support/raw.js';

describe('request hygiene', () => {
  let up: RecordingUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      server: { max_body_bytes: 1000, max_header_bytes: 16384, max_headers: 40, chunked_request_bodies: true },
      routes: [
        { path: '/small', auth: 'none', max_body_bytes: 10 },
        { path: '/only-get', methods: ['GET'], auth: 'none' },
        { path: '/*', auth: 'none' },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  const refusedWith = (status: number, code: string) => async (payload: string) => {
    const before = up.seen.length;
    const r = await rawRequest(proxy.port, payload);
    assert.equal(r.status, status, r.response.slice(0, 200));
    assert.equal((rawJson(r) as { error: { code: string } }).error.code, code);
    assert.equal(r.closed, true, 'connection should be closed');
    assert.equal(up.seen.length, before, 'upstream must see nothing');
  };

  /** Refused by the sidecar (400) or dropped by uWS's parser: either way closed, upstream untouched. */
  const refusedOrDropped = async (payload: string) => {
    const before = up.seen.length;
    const r = await rawRequest(proxy.port, payload);
    assert.ok(r.status === 400 || r.status === 0, `status ${r.status}`);
    if (r.status === 400) assert.match((rawJson(r) as { error: { code: string } }).error.code, /^ARGUS_/);
    assert.equal(r.closed, true, 'connection should be closed');
    assert.equal(up.seen.length, before, 'upstream must see nothing');
  };

  it('400 on duplicate Content-Length (same value)', () =>
    refusedWith(400, 'ARGUS_AMBIGUOUS_LENGTH')('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'));
  it('400 on duplicate Content-Length (different values)', () =>
    refusedWith(400, 'ARGUS_AMBIGUOUS_LENGTH')('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'));
  it('Content-Length with Transfer-Encoding never reaches the upstream', () =>
    refusedOrDropped('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'));
  it('a non-numeric Content-Length never reaches the upstream', () => refusedOrDropped('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\nabc'));
  it('a negative Content-Length never reaches the upstream', () => refusedOrDropped('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\nabc'));
  it('431 when the header section is over the limit', () =>
    refusedWith(431, 'ARGUS_HEADERS_TOO_LARGE')(`GET /echo HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`));
  it('431 on too many headers', () =>
    refusedWith(431, 'ARGUS_TOO_MANY_HEADERS')(`GET /echo HTTP/1.1\r\nHost: a\r\n${Array.from({ length: 42 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`));
  it('413 when Content-Length is over the body limit', () =>
    refusedWith(413, 'ARGUS_PAYLOAD_TOO_LARGE')('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n'));
  it('413 when a route limit is lower than the server limit', () =>
    refusedWith(413, 'ARGUS_PAYLOAD_TOO_LARGE')('POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world'));
  it('413 when a chunked body outgrows the limit', async () => {
    const chunk = 'a'.repeat(600);
    const before = up.seen.length;
    const r = await rawRequest(
      proxy.port,
      `POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`,
    );
    assert.equal(r.status, 413);
    assert.equal(r.closed, true);
    assert.ok(up.seen.length === before || up.seen.at(-1)!.aborted, 'upstream saw nothing, or an aborted request');
  });
  it('a 16 KiB Cognito-sized header fits under the default limit', async () => {
    const r = await rawRequest(proxy.port, `GET /echo HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${'t'.repeat(15000)}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200);
  });
  it('Expect: 100-continue gets "100 Continue", then the response', async () => {
    const r = await rawRequest(proxy.port, 'POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
    assert.match(r.response, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.bytes, 3);
    assert.equal(seen.headers['expect'], undefined, 'Expect is answered by the proxy, not forwarded');
  });
  it('404 ARGUS_NOT_FOUND and 405 ARGUS_METHOD_NOT_ALLOWED for unrouted requests', async () => {
    const p = await startTestProxy({ upstream: { url: up.url }, routes: [{ path: '/only-get', methods: ['GET'], auth: 'none' }] });
    try {
      const nf = await rawRequest(p.port, 'GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      assert.equal(nf.status, 404);
      assert.equal((rawJson(nf) as { error: { code: string } }).error.code, 'ARGUS_NOT_FOUND');
      const na = await rawRequest(p.port, 'POST /only-get HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      assert.equal(na.status, 405);
      assert.equal((rawJson(na) as { error: { code: string } }).error.code, 'ARGUS_METHOD_NOT_ALLOWED');
    } finally {
      await p.stop();
    }
  });
});
