/**
 * A refused connection is finished: after a refusal that closes, no further byte
 * of that connection is parsed, routed or forwarded. Each refusal is sent with a
 * canary request pipelined behind it in the same TCP segment; the client must get
 * exactly one response (the refusal), the connection must close, and the upstream
 * must never see the canary. Also: pipelined requests are answered in order or
 * none reaches the upstream, and none of the request classes uWS holds without
 * delivering them (bench/uws-held.ts) reaches the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HELD_CLASSES } from '../bench/uws-held.js';
import { startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

const canary = (tag: string) => `GET /pub/__canary HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${tag}\r\n\r\n`;
const responses = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g)?.map((s) => Number(s.slice(9))) ?? [];

/** [refusal, status, request bytes]. Each is followed by a canary uWS would parse as the next request. */
const REFUSALS: Array<[string, number, string]> = [
  ['duplicate Content-Length, different values', 400, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc'],
  ['duplicate Content-Length, same value', 400, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
  ['Transfer-Encoding: xchunked', 400, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['Transfer-Encoding: chunked, gzip', 400, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['Transfer-Encoding: gzip, chunked', 400, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  [
    'two Transfer-Encoding headers',
    400,
    'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  ],
  ['chunk size with leading whitespace', 411, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n'],
  ['chunk longer than its size', 411, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!!\r\n0\r\n\r\n'],
  ['a chunked body (chunked_request_bodies: false)', 411, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['body over the limit', 413, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n'],
  ['header section over the limit', 431, `GET /pub/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`],
  ['too many headers', 431, `GET /pub/x HTTP/1.1\r\nHost: a\r\n${Array.from({ length: 42 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`],
  ['an escaped slash in the path', 400, 'GET /pub/..%2fadmin HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['two Host headers', 400, 'GET /pub/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['Host with userinfo', 400, 'GET /pub/x HTTP/1.1\r\nHost: user@evil.test\r\n\r\n'],
  ['empty Host', 400, 'GET /pub/x HTTP/1.1\r\nHost:\r\n\r\n'],
];

describe('a refused connection is finished', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({ server: { max_body_bytes: 1000 } });
  });
  after(() => gate.close());

  const sawCanary = (tag: string) => gate.up.seen.some((s) => s.headers['x-request-id'] === tag);

  for (const [name, status, bytes] of REFUSALS) {
    it(`${name}: one ${status}, closed, the pipelined canary never reaches the upstream`, async () => {
      const tag = `canary-${Math.random().toString(36).slice(2)}`;
      const before = gate.up.seen.length;
      const r = await rawRequest(gate.proxy.port, bytes + canary(tag), 3000);
      assert.deepEqual(responses(r.response), [status], r.response.slice(0, 300));
      assert.match(r.response, /\r\nConnection: close\r\n/i);
      assert.equal(r.closed, true, 'connection closed');
      assert.equal(sawCanary(tag), false, 'the canary reached the upstream');
      assert.equal(gate.up.seen.length, before, 'upstream saw nothing');
    });
  }

  it('Transfer-Encoding: identity: at most one response, closed, the canary never reaches the upstream', async () => {
    // uWS reads an identity body as chunked, fails on the canary and drops the connection with the refusal unsent.
    const tag = `canary-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(gate.proxy.port, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n' + canary(tag), 3000);
    assert.ok(responses(r.response).every((s) => s === 400) && responses(r.response).length <= 1, r.response);
    assert.equal(r.closed, true);
    assert.equal(sawCanary(tag), false);
  });

  it('the canary in a later segment finds the connection closed', async () => {
    const tag = `canary-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(gate.proxy.port, 'POST /pub/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc', 3000);
    assert.deepEqual(responses(r.response), [400]);
    assert.equal(r.closed, true);
    assert.equal(sawCanary(tag), false);
  });

  it('pipelined requests in one segment: answered in order, or none reaches the upstream', async () => {
    for (const first of ['GET /pub/first HTTP/1.1\r\nHost: a\r\n', 'POST /pub/first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n']) {
      const t1 = `p1-${Math.random().toString(36).slice(2)}`;
      const t2 = `p2-${Math.random().toString(36).slice(2)}`;
      const body = first.startsWith('POST') ? 'hi' : '';
      const r = await rawRequest(gate.proxy.port, `${first}X-Request-Id: ${t1}\r\n\r\n${body}` + canary(t2), 3000);
      const got = responses(r.response);
      const seen = gate.up.seen.filter((s) => s.headers['x-request-id'] === t1 || s.headers['x-request-id'] === t2).map((s) => s.headers['x-request-id']);
      if (got.length === 0) assert.deepEqual(seen, [], 'refused, yet something reached the upstream');
      else {
        assert.deepEqual(got, [200, 200]);
        assert.deepEqual(seen, [t1, t2]);
      }
    }
  });

  it('a refusal that does not close (404) leaves the pipelined request to be answered in order', async () => {
    const tag = `after-404-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(
      gate.proxy.port,
      'GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n' + canary(tag).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'),
      3000,
    );
    assert.deepEqual(responses(r.response), [404, 200]);
    assert.equal(sawCanary(tag), true);
  });

  it('a header line with an empty name: uWS drops it and every line after it, so nothing after it is judged or forwarded', async () => {
    const denied = await rawRequest(gate.proxy.port, `GET /admin/x HTTP/1.1\r\nHost: a\r\n: x\r\n${gate.ids.admin}Connection: close\r\n\r\n`);
    assert.deepEqual(responses(denied.response), [401], 'the key after the empty name was not seen');
    const tag = `empty-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(gate.proxy.port, `GET /pub/x HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${tag}\r\n: x\r\nX-Smuggled: 1\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(responses(r.response), [200]);
    const seen = gate.up.seen.find((s) => s.headers['x-request-id'] === tag)!;
    assert.equal(seen.headers['x-smuggled'], undefined);
    assert.ok(
      seen.headerLines.every((l) => !l.startsWith(':')),
      seen.headerLines.join(' | '),
    );
  });

  it('no request class uWS holds or drops reaches the upstream', async () => {
    const before = gate.up.seen.length;
    const results = await Promise.all(
      HELD_CLASSES.filter(([name]) => name !== 'valid request (control)' && name !== 'empty header name').map(async ([name, bytes]) => {
        const gated = bytes.replace(' /x ', ' /pub/x ');
        const r = await rawRequest(gate.proxy.port, gated, 1500);
        return { name, statuses: responses(r.response) };
      }),
    );
    for (const { name, statuses } of results)
      assert.ok(
        statuses.every((s) => s >= 400),
        `${name}: ${statuses}`,
      );
    assert.deepEqual(
      gate.up.seen.slice(before).map((s) => s.requestLine),
      [],
    );
  });
});

describe('chunked_request_bodies: true (uWS decodes the chunks)', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({ server: { chunked_request_bodies: true } });
  });
  after(() => gate.close());

  it('a valid chunked body is forwarded whole', async () => {
    const r = await rawRequest(
      gate.proxy.port,
      'POST /pub/c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      3000,
    );
    assert.deepEqual(responses(r.response), [200]);
    assert.equal(gate.up.seen.at(-1)!.body.toString(), 'hello');
  });

  for (const [name, chunks] of [
    ['leading whitespace', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['a chunk longer than its size', '5\r\nhello!!\r\n0\r\n\r\n'],
  ] as const) {
    it(`malformed chunks (${name}): the bytes after them never reach the upstream as a request`, async () => {
      const tag = `canary-${Math.random().toString(36).slice(2)}`;
      await rawRequest(gate.proxy.port, `POST /pub/m HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}` + canary(tag), 1500);
      assert.equal(
        gate.up.seen.some((s) => s.headers['x-request-id'] === tag),
        false,
      );
    });
  }
});
