/**
 * The upstream HTTP/1.1 client refuses ambiguous or malformed responses
 * (H1_BAD_RESPONSE, connection dropped: nothing after them can be trusted), and
 * reports timeouts, resets and refusals with their codes.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { H1Pool } from '../src/forward/h1/pool.js';
import { classify } from '../src/forward/relay.js';
import { h1Fixture, ok, send } from './support/h1-harness.js';

const fx = h1Fixture({ connections: 4 });
const { setup, pools, ups } = fx;
after(() => fx.cleanup());

const SMUGGLING: Array<[string, string]> = [
  ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd'],
  ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 3x\r\n\r\nabc'],
  ['a signed Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: +3\r\n\r\nabc'],
  ['obs-fold', 'HTTP/1.1 200 OK\r\nx-a: 1\r\n folded\r\ncontent-length: 0\r\n\r\n'],
  ['whitespace before the colon', 'HTTP/1.1 200 OK\r\ncontent-length : 0\r\n\r\n'],
  ['a bare LF inside the head', 'HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\ncontent-length: 0\r\n\r\n'],
  ['a NUL in a value', 'HTTP/1.1 200 OK\r\nx-a: a\u0000b\r\ncontent-length: 0\r\n\r\n'],
  ['an invalid chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
  ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n'],
  ['an oversized chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\n'],
  ['HTTP/2 status line', 'HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n'],
  ['a two-digit status', 'HTTP/1.1 20 OK\r\ncontent-length: 0\r\n\r\n'],
  ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n'],
  ['not HTTP at all', 'SSH-2.0-OpenSSH_9.2\r\n\r\n'],
];

describe('h1 client: malformed responses → H1_BAD_RESPONSE', () => {
  for (const [name, bytes] of SMUGGLING) {
    it(`refuses ${name} and drops the connection`, async () => {
      const { up, pool } = await setup(() => ({ write: bytes }));
      const o = await send(pool, { path: '/' });
      assert.equal(o.error?.code, 'H1_BAD_RESPONSE', `${name}: ${o.error?.message ?? 'no error'}`);
      assert.equal(classify(o.error!), 'protocol');
      assert.equal(pool.stats().connections, 0);
      const deadline = Date.now() + 2000;
      while (up.open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(up.open.size, 0);
    });
  }

  it('refuses a response head over the limit', async () => {
    const { pool } = await setup(() => ({ write: `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(5000)}\r\ncontent-length: 0\r\n\r\n` }), { maxHeadBytes: 4096 });
    assert.equal((await send(pool, { path: '/' })).error?.code, 'H1_BAD_RESPONSE');
  });

  it('refuses bytes after a complete response on a keep-alive connection (no reuse)', async () => {
    const { up, pool } = await setup((_r, i) => ({ write: i === 0 ? ok('one') + 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nextra' : ok('two') }));
    assert.equal((await send(pool, { path: '/' })).body.toString(), 'one');
    assert.equal((await send(pool, { path: '/' })).body.toString(), 'two');
    assert.equal(up.connections, 2);
  });
});

describe('h1 client: failures with codes', () => {
  it('H1_HEADERS_TIMEOUT when no head arrives in time', async () => {
    const { pool } = await setup(() => 'hang', { headersTimeoutMs: 150 });
    const o = await send(pool, { path: '/' });
    assert.equal(o.error?.code, 'H1_HEADERS_TIMEOUT');
    assert.equal(classify(o.error!), 'timeout');
  });

  it('H1_BODY_TIMEOUT when the body stalls', async () => {
    const { pool } = await setup(() => ({ write: 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc' }), { bodyTimeoutMs: 150 });
    const o = await send(pool, { path: '/' });
    assert.equal(o.error?.code, 'H1_BODY_TIMEOUT');
    assert.equal(o.body.toString(), 'abc');
  });

  it('a per-request body timeout of 0 lets a slow stream through', async () => {
    const { pool } = await setup(() => ({ write: ['HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabc'] }), { bodyTimeoutMs: 100 });
    const up2 = ups[ups.length - 1]!;
    const pending = send(pool, { path: '/', bodyTimeoutMs: 0 });
    await new Promise((r) => setTimeout(r, 300));
    for (const s of up2.open) s.write('def');
    const o = await pending;
    assert.equal(o.error, undefined);
    assert.equal(o.body.toString(), 'abcdef');
  });

  it('H1_CLOSED when the upstream closes mid-body', async () => {
    const { pool } = await setup(() => ({ write: 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', close: true }));
    const o = await send(pool, { path: '/' });
    assert.equal(o.error?.code, 'H1_CLOSED');
    assert.equal(classify(o.error!), 'reset');
  });

  it('ECONNREFUSED when nothing listens', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const pool = new H1Pool({ url: `http://127.0.0.1:${port}`, connections: 2, keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000, bodyTimeoutMs: 1000 });
    pools.push(pool);
    const results = await Promise.all([1, 2, 3].map(() => send(pool, { path: '/' })));
    for (const o of results) {
      assert.equal(o.error?.code, 'ECONNREFUSED');
      assert.equal(classify(o.error!), 'refused');
    }
  });
});
