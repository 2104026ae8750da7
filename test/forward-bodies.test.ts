/** Every method and body shape reaches the upstream byte-exact, and comes back byte-exact. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { patternBytes, startUpstream, type RecordingUpstream } from './support/upstream.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function send(
  base: string,
  method: string,
  path: string,
  body?: Buffer | ((req: http.ClientRequest) => Promise<void>),
  headers: Record<string, string | number> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (typeof body === 'function') void body(req).then(() => req.end(), reject);
    else req.end(body);
  });
}

describe('forwarding bodies', () => {
  let up: RecordingUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      server: { max_body_bytes: 32 * 1024 * 1024, chunked_request_bodies: true },
      routes: [{ path: '/*', auth: 'none' }],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  for (const method of ['GET', 'DELETE', 'OPTIONS', 'HEAD']) {
    it(`${method} without a body`, async () => {
      const r = await send(proxy.url, method, '/echo/none?q=1&r=%20x');
      assert.equal(r.status, 200);
      const seen = up.seen.at(-1)!;
      assert.equal(seen.method, method);
      assert.equal(seen.url, '/echo/none?q=1&r=%20x');
      assert.equal(seen.bytes, 0);
      if (method === 'HEAD') {
        assert.equal(r.body.length, 0);
        assert.ok(Number(r.headers['content-length']) > 0, 'HEAD keeps the upstream Content-Length');
      }
    });
  }

  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    for (const size of [0, 1, 1000, 70_000]) {
      it(`${method} with a ${size}-byte body`, async () => {
        const body = patternBytes(size, size + 1);
        const r = await send(proxy.url, method, '/echo', body, { 'content-type': 'application/octet-stream', 'content-length': size });
        assert.equal(r.status, 200);
        const echoed = JSON.parse(r.body.toString()) as { method: string; bytes: number; sha256: string };
        assert.equal(echoed.method, method);
        assert.equal(echoed.bytes, size);
        assert.equal(echoed.sha256, sha(body));
      });
    }
  }

  it('streams a 10 MiB request body: the upstream sees bytes before the client has sent them all', async () => {
    const body = patternBytes(10 * 1024 * 1024, 3);
    const before = up.bodyBytes();
    const r = await send(
      proxy.url,
      'PUT',
      '/echo/big',
      async (req) => {
        const half = body.length / 2;
        for (let i = 0; i < half; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
        // The upstream must have received data while the client still holds half the body.
        await waitFor(() => up.bodyBytes() - before > 0, 10000, 'upstream to receive the first bytes');
        for (let i = half; i < body.length; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
      },
      { 'content-length': body.length },
    );
    assert.equal(r.status, 200);
    const echoed = JSON.parse(r.body.toString()) as { bytes: number; sha256: string };
    assert.equal(echoed.bytes, body.length);
    assert.equal(echoed.sha256, sha(body));
  });

  it('forwards a chunked request body byte-exact', async () => {
    const body = patternBytes(300_000, 9);
    const r = await send(
      proxy.url,
      'POST',
      '/echo/chunked',
      async (req) => {
        for (let i = 0; i < body.length; i += 10_000) req.write(body.subarray(i, i + 10_000));
      },
      { 'transfer-encoding': 'chunked' },
    );
    assert.equal(r.status, 200);
    const echoed = JSON.parse(r.body.toString()) as { bytes: number; sha256: string; headers: Record<string, string> };
    assert.equal(echoed.bytes, body.length);
    assert.equal(echoed.sha256, sha(body));
  });

  it('returns a 10 MiB Content-Length response byte-exact with its length', async () => {
    const r = await send(proxy.url, 'GET', '/bytes/10485760');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '10485760');
    assert.equal(r.body.length, 10485760);
    assert.equal(sha(r.body), r.headers['x-sha256']);
  });

  it('a client that stops reading still gets a large response byte-exact while other responses flow through', async () => {
    // The slow response piles up in the sidecar (uWS backpressure) while the other
    // requests' bytes pass through the same upstream read path: what the sidecar
    // keeps for the slow client must be its own copy.
    const slow = new Promise<Reply>((resolve, reject) => {
      const req = http.request(`${proxy.url}/bytes/${16 * 1024 * 1024}`, { agent: false }, (res) => {
        res.pause();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
        setTimeout(() => res.resume(), 400);
      });
      req.on('error', reject);
      req.end();
    });
    const others = await Promise.all(Array.from({ length: 40 }, (_, i) => send(proxy.url, 'GET', `/bytes/${65536 + i}`)));
    for (const r of others) assert.equal(sha(r.body), r.headers['x-sha256']);
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 16 * 1024 * 1024);
    assert.equal(sha(r.body), r.headers['x-sha256']);
  });

  it('returns a chunked response byte-exact', async () => {
    const r = await send(proxy.url, 'GET', '/chunked/3000000');
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.body.length, 3000000);
    assert.equal(sha(r.body), r.headers['x-sha256']);
  });

  it('passes server-sent events through one at a time (unbuffered)', async () => {
    const received: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      http.get(proxy.url + '/sse/3', { agent: false }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream');
        res.on('data', (c: Buffer) => received.push(c.toString()));
        res.on('end', resolve);
        res.on('error', reject);
      });
    });
    for (let i = 0; i < 3; i++) {
      up.release();
      // Event i must reach the client before the upstream is allowed to send event i+1.
      await waitFor(() => received.join('').includes(`data: event ${i}\n\n`), 5000, `event ${i}`);
    }
    await done;
    assert.equal(received.join(''), 'data: event 0\n\ndata: event 1\n\ndata: event 2\n\n');
  });
});
