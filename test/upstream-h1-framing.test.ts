/** The upstream HTTP/1.1 client: keep-alive, response framing, request framing, backpressure, queueing, close. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { h1Fixture, ok, send } from './support/h1-harness.js';

const fx = h1Fixture();
const { setup } = fx;
after(() => fx.cleanup());

describe('h1 client: keep-alive', () => {
  it('reuses one connection for sequential requests', async () => {
    const { up, pool } = await setup((_r, i) => ({ write: ok(`r${i}`) }));
    for (let i = 0; i < 5; i++) {
      const o = await send(pool, { path: `/n/${i}` });
      assert.equal(o.status, 200);
      assert.equal(o.body.toString(), `r${i}`);
    }
    assert.equal(up.connections, 1);
    assert.deepEqual(
      up.seen.map((s) => s.head.split('\r\n')[0]),
      [0, 1, 2, 3, 4].map((i) => `GET /n/${i} HTTP/1.1`),
    );
  });

  it('does not reuse a connection the upstream marked Connection: close', async () => {
    const { up, pool } = await setup(() => ({ write: ok('x', 'connection: close\r\n') }));
    await send(pool, { path: '/a' });
    await send(pool, { path: '/b' });
    assert.equal(up.connections, 2);
  });

  it('resends an idempotent request once when a reused connection dies before answering', async () => {
    // Request 1 is answered; request 2 lands on the same socket, which the upstream drops unanswered.
    const { up, pool } = await setup((_r, i) => (i === 1 ? { destroy: true } : { write: ok(`r${i}`) }));
    assert.equal((await send(pool, { path: '/1' })).body.toString(), 'r0');
    const o = await send(pool, { path: '/2' });
    assert.equal(o.error, undefined);
    assert.equal(o.body.toString(), 'r2');
    assert.equal(up.seen.length, 3);
    assert.equal(up.connections, 2);
  });

  it('does not resend a POST: the caller gets the failure', async () => {
    const { up, pool } = await setup((_r, i) => (i === 1 ? { destroy: true } : { write: ok(`r${i}`) }));
    await send(pool, { path: '/1' });
    const o = await send(pool, { path: '/2', method: 'POST', body: Buffer.from('pay') });
    assert.ok(o.error);
    assert.equal(up.seen.length, 2);
  });

  it('closes idle connections after the keep-alive timeout', async () => {
    const { up, pool } = await setup(() => ({ write: ok('x') }), { keepAliveTimeoutMs: 100 });
    await send(pool, { path: '/' });
    assert.equal(pool.stats().idle, 1);
    const deadline = Date.now() + 3000;
    while (pool.stats().connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pool.stats().connections, 0);
    await send(pool, { path: '/' });
    assert.equal(up.connections, 2);
  });
});

describe('h1 client: response framing', () => {
  it('reassembles a chunked body byte-exact, ignoring extensions and dropping trailers', async () => {
    const { up, pool } = await setup((_r, i) =>
      i === 0
        ? {
            write: [
              'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
              '5;ext=1\r\nhello\r\n',
              '1',
              '\r\n \r\n',
              'B\r\n',
              'world, and\n\r\n0\r\nx-trailer: 1\r\n\r\n',
            ],
          }
        : { write: ok('next') },
    );
    const o = await send(pool, { path: '/' });
    assert.equal(o.body.toString(), 'hello world, and\n');
    assert.deepEqual(o.headers, ['transfer-encoding', 'chunked']);
    // The trailer section was consumed exactly: the next response on the same socket parses.
    assert.equal((await send(pool, { path: '/' })).body.toString(), 'next');
    assert.equal(up.connections, 1);
  });

  it('skips 100 Continue and 103 Early Hints before the final response', async () => {
    const { pool } = await setup(() => ({ write: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n' + ok('final') }));
    const o = await send(pool, { path: '/' });
    assert.equal(o.status, 200);
    assert.equal(o.body.toString(), 'final');
  });

  it('reads a close-delimited body to the end and does not reuse the connection', async () => {
    const { up, pool } = await setup(() => ({ write: 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end', close: true }));
    const o = await send(pool, { path: '/' });
    assert.equal(o.error, undefined);
    assert.equal(o.body.toString(), 'until the end');
    await send(pool, { path: '/' });
    assert.equal(up.connections, 2);
  });

  it('reads no body after HEAD, 204 and 304, and keeps the connection', async () => {
    const { up, pool } = await setup((_r, i) => ({
      write:
        i === 0
          ? 'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n'
          : i === 1
            ? 'HTTP/1.1 204 No Content\r\n\r\n'
            : 'HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n',
    }));
    const head = await send(pool, { path: '/', method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal((await send(pool, { path: '/' })).status, 204);
    assert.equal((await send(pool, { path: '/' })).status, 304);
    assert.equal(up.connections, 1);
  });

  it('delivers a response head split across many reads', async () => {
    const text = ok('split', 'x-long: ' + 'v'.repeat(300) + '\r\n');
    const { pool } = await setup(() => ({ write: [...text].map((c) => c) }));
    const o = await send(pool, { path: '/' });
    assert.equal(o.body.toString(), 'split');
    assert.equal(o.headers[3], 'v'.repeat(300));
  });

  it('passes header names lower-cased and values as sent, in order, repeats kept', async () => {
    const { pool } = await setup(() => ({
      write: 'HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nX-Mixed:   spaced value \t\r\nset-cookie: b=2\r\ncontent-length: 0\r\n\r\n',
    }));
    const o = await send(pool, { path: '/' });
    assert.equal(o.status, 201);
    assert.deepEqual(o.headers, ['set-cookie', 'a=1', 'x-mixed', 'spaced value', 'set-cookie', 'b=2', 'content-length', '0']);
  });
});

describe('h1 client: request framing', () => {
  it("sends a Buffer body with its true Content-Length, replacing the caller's", async () => {
    const { up, pool } = await setup(() => ({ write: ok('') }));
    await send(pool, { path: '/', method: 'POST', headers: ['content-length', '99', 'x-a', '1'], body: Buffer.from('12345') });
    const s = up.seen[0]!;
    assert.match(s.head, /\r\ncontent-length: 5(\r\n|$)/);
    assert.doesNotMatch(s.head, /content-length: 99/);
    assert.equal(s.body.toString(), '12345');
    assert.match(s.head, /\r\nhost: 127\.0\.0\.1:\d+/);
  });

  it("streams a body with the caller's Content-Length, or chunked without one", async () => {
    const { up, pool } = await setup(() => ({ write: ok('') }));
    await send(pool, { path: '/a', method: 'PUT', headers: ['content-length', '6'], body: Readable.from([Buffer.from('abc'), Buffer.from('def')]) });
    await send(pool, { path: '/b', method: 'POST', headers: ['transfer-encoding', 'chunked'], body: Readable.from([Buffer.from('xy'), Buffer.from('z')]) });
    assert.match(up.seen[0]!.head, /content-length: 6/);
    assert.equal(up.seen[0]!.body.toString(), 'abcdef');
    assert.match(up.seen[1]!.head, /\r\ntransfer-encoding: chunked/);
    assert.equal(up.seen[1]!.body.toString(), '2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n');
    assert.equal(up.connections, 1);
  });

  it('says content-length: 0 for an empty POST, nothing for a GET', async () => {
    const { up, pool } = await setup(() => ({ write: ok('') }));
    await send(pool, { path: '/', method: 'POST' });
    await send(pool, { path: '/' });
    assert.match(up.seen[0]!.head, /content-length: 0/);
    assert.doesNotMatch(up.seen[1]!.head, /content-length/);
  });

  it('refuses a header value with CR/LF (H1_BAD_REQUEST) and writes nothing', async () => {
    const { up, pool } = await setup(() => ({ write: ok('') }));
    const o = await send(pool, { path: '/', headers: ['x-user', 'a\r\nx-argus-user-id: admin'] });
    assert.equal(o.error?.code, 'H1_BAD_REQUEST');
    const o2 = await send(pool, { path: '/ HTTP/1.1\r\nx: y' });
    assert.equal(o2.error?.code, 'H1_BAD_REQUEST');
    // Long values take the other scan (a regular expression past 64 characters): same verdicts.
    for (const bad of ['\r\nx-argus-user-id: admin', '\n', '\u0000', '\u007f']) {
      const long = await send(pool, { path: '/', headers: ['authorization', `Bearer ${'e'.repeat(600)}${bad}${'f'.repeat(30)}`] });
      assert.equal(long.error?.code, 'H1_BAD_REQUEST', JSON.stringify(bad));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(up.seen.length, 0);
  });
});

describe('h1 client: backpressure, queueing, close', () => {
  it('delivers nothing while paused, everything after resume', async () => {
    const body = 'a'.repeat(50_000);
    const { pool } = await setup(() => ({
      write: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' + '1\r\nx\r\n'.repeat(20) + `${(50_000).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    }));
    let paused = false;
    let deliveredWhilePaused = 0;
    const o = await send(pool, { path: '/' }, (c, _chunk, out) => {
      if (paused) deliveredWhilePaused++;
      if (out.chunks === 1) {
        paused = true;
        c.pause();
        setTimeout(() => {
          paused = false;
          c.resume();
        }, 100);
      }
    });
    assert.equal(deliveredWhilePaused, 0);
    assert.equal(o.body.toString(), 'x'.repeat(20) + body);
  });

  it('queues requests beyond `connections` and serves them in order', async () => {
    const { up, pool } = await setup((r) => ({ write: ok(r.head.split(' ')[1]!), delayMs: 20 }), { connections: 1 });
    const results = await Promise.all([1, 2, 3, 4].map((i) => send(pool, { path: `/${i}` })));
    assert.deepEqual(
      results.map((r) => r.body.toString()),
      ['/1', '/2', '/3', '/4'],
    );
    assert.equal(up.connections, 1);
  });

  it('abort() ends the exchange with the reason and drops the connection', async () => {
    const { up, pool } = await setup(() => ({ write: 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc' }));
    const o = await send(pool, { path: '/' }, (c) => c.abort(new Error('client aborted')));
    assert.equal(o.error?.message, 'client aborted');
    const deadline = Date.now() + 2000;
    while (up.open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(up.open.size, 0);
    assert.equal(pool.stats().connections, 0);
  });

  it('close() lets in-flight requests finish, then refuses new ones', async () => {
    const { up, pool } = await setup(() => ({ write: ok('late'), delayMs: 100 }));
    const inflight = send(pool, { path: '/' });
    await new Promise((r) => setTimeout(r, 20));
    const closed = pool.close();
    assert.equal(pool.close(), closed);
    assert.equal((await inflight).body.toString(), 'late');
    await closed;
    assert.equal(pool.stats().connections, 0);
    const refused = await send(pool, { path: '/' });
    assert.equal(refused.error?.code, 'H1_POOL_CLOSED');
    assert.equal(up.seen.length, 1);
  });
});

describe('h1 client: request heads', () => {
  it('sends each head exactly, whatever the one before held (the scratch list is reused, never leaks lines)', async () => {
    const { up, pool } = await setup(() => ({ write: ok('x') }));
    const many = Array.from({ length: 40 }, (_, i) => [`x-h${i}`, i === 3 ? '' : `v${i}`]).flat();
    await send(pool, { path: '/long', headers: many });
    await send(pool, { path: '/short', headers: ['x-only', 'one'] });
    await send(pool, { path: '/none', method: 'POST', headers: [] });
    const [long, short, none] = up.seen.map((s) => s.head.split('\r\n').filter(Boolean));
    assert.equal(long!.filter((l) => l.startsWith('x-h')).length, 40);
    assert.ok(long!.includes('x-h3: '));
    assert.deepEqual(short!.slice(0, 1), ['GET /short HTTP/1.1']);
    assert.deepEqual(
      short!.filter((l) => l.startsWith('x-')),
      ['x-only: one'],
    );
    assert.deepEqual(
      none!.filter((l) => l.startsWith('x-')),
      [],
    );
    assert.ok(none!.includes('content-length: 0'));
    assert.equal(none!.length, 3, `POST with no headers: request line, host, content-length (got ${JSON.stringify(none)})`);
  });
});
