/**
 * Methods and HEAD: TRACE and CONNECT are 405 unless a route lists them; every 405
 * carries Allow with the route's methods; no response to HEAD carries body bytes,
 * the sidecar's own refusals (400, 401, 404, 405, 429) included.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

const ROUTES = [
  { path: '/pub/*', auth: 'none' },
  { path: '/admin/*', auth: 'required', role: 'admin' },
  { path: '/get-only', auth: 'none', methods: ['GET'] },
  { path: '/trace', auth: 'none', methods: ['TRACE', 'GET'] },
  { path: '/limited/*', auth: 'required' },
];

describe('methods and HEAD', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({ routes: ROUTES, extra: { ratelimit: { enabled: true }, tiers: { business: { requests_per_minute: 1, burst: 0 } } } });
  });
  after(() => gate.close());

  const send = async (method: string, path: string, creds = '') => {
    const rid = `m-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(gate.proxy.port, `${method} ${path} HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${rid}\r\n${creds}Connection: close\r\n\r\n`);
    const i = r.response.indexOf('\r\n\r\n');
    return { status: r.status, head: r.response.slice(0, i), body: r.response.slice(i + 4), seen: gate.up.seen.find((s) => s.headers['x-request-id'] === rid) };
  };

  for (const method of ['TRACE', 'CONNECT']) {
    it(`${method} on a route that does not list it: 405 with Allow, upstream untouched`, async () => {
      const r = await send(method, '/pub/x');
      assert.equal(r.status, 405, r.head);
      assert.match(r.head, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS(\r\n|$)/i);
      assert.equal(r.seen, undefined);
    });
  }

  it('TRACE on a route that lists it is forwarded', async () => {
    const r = await send('TRACE', '/trace');
    assert.equal(r.status, 200);
    assert.equal(r.seen!.requestLine, 'TRACE /trace HTTP/1.1');
  });

  it('405 for a method the route does not list carries Allow with its methods', async () => {
    const r = await send('DELETE', '/get-only');
    assert.equal(r.status, 405);
    assert.match(r.head, /\r\nallow: GET(\r\n|$)/i);
    const t = await send('POST', '/trace');
    assert.match(t.head, /\r\nallow: TRACE, GET(\r\n|$)/i);
  });

  const headCases: Array<[string, number, string, string?]> = [
    ['400 (path)', 400, '/pub/%2f'],
    ['401', 401, '/admin/x'],
    ['403', 403, '/admin/x', 'user'],
    ['404', 404, '/nowhere'],
    ['405', 405, '/get-only'],
  ];
  for (const [name, status, path, id] of headCases) {
    it(`HEAD refused with ${name}: no body bytes`, async () => {
      const r = await send('HEAD', path, id ? gate.ids[id as 'user'] : '');
      assert.equal(r.status, status, r.head);
      assert.equal(r.body, '', `body bytes after a HEAD ${status}`);
    });
  }

  it('HEAD refused with 429: no body bytes', async () => {
    let last = await send('HEAD', '/limited/x', gate.ids.user);
    for (let i = 0; i < 5 && last.status !== 429; i++) last = await send('HEAD', '/limited/x', gate.ids.user);
    assert.equal(last.status, 429);
    assert.equal(last.body, '');
  });

  it('a HEAD refusal followed by a pipelined GET: the next response starts right after the headers', async () => {
    const r = await rawRequest(
      gate.proxy.port,
      'HEAD /nowhere HTTP/1.1\r\nHost: a\r\n\r\nGET /pub/after-head HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const first = r.response.indexOf('\r\n\r\n');
    assert.match(r.response.slice(first + 4), /^HTTP\/1\.1 200 /, r.response);
  });

  it('HEAD forwarded: no body, the upstream Content-Length, and the keep-alive connection serves the next request', async () => {
    const r = await rawRequest(gate.proxy.port, 'HEAD /pub/h1 HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(r.response, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(r.response, /\r\ncontent-length: 2\r\n/i);
    assert.ok(r.response.endsWith('\r\n\r\n'), JSON.stringify(r.response));
    assert.equal(r.closed, false, 'keep-alive connection stays open');
    // The same connection, a second request after the first answer (not pipelined).
    const seq = await new Promise<string>((resolve) => {
      const s = net.connect(gate.proxy.port, '127.0.0.1', () => s.write('HEAD /pub/h2 HTTP/1.1\r\nHost: a\r\n\r\n'));
      let out = '';
      let sent = false;
      s.on('data', (d) => {
        out += d.toString('latin1');
        if (!sent && out.endsWith('\r\n\r\n')) {
          sent = true;
          s.write('GET /pub/x HTTP/1.1\r\nHost: a\r\nX-Request-Id: after-head-2\r\nConnection: close\r\n\r\n');
        }
      });
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
    assert.equal(seq.match(/HTTP\/1\.1 200/g)?.length, 2, seq);
    assert.ok(gate.up.seen.some((s) => s.headers['x-request-id'] === 'after-head-2'));
  });
});
