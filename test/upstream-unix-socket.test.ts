/**
 * `upstream.url: unix:/path/app.sock`: an app that listens only on a Unix domain
 * socket (no TCP port at all) gets plain requests, request bodies, a streamed SSE
 * response unbuffered and a WebSocket, all through the sidecar; a relative path
 * is a config error naming the key (exit 2); a missing socket is a 502 counted as
 * `kind="refused"`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { errorCode, get, post } from './support/http.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { runCli, writeConfig } from './support/spawn.js';
import { connectWs } from './support/ws-upstream.js';

interface SocketApp {
  readonly server: http.Server;
  readonly path: string;
  readonly seen: IncomingMessage[];
  /** Resolves the held SSE stream's second event. */
  releaseSse: () => void;
}

async function startSocketApp(dir: string): Promise<SocketApp> {
  const path = join(dir, 'app.sock');
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const seen: IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      void held.then(() => res.end('data: second\n\n'));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ hello: req.url, host: req.headers.host }));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { server, path, seen, releaseSse: () => release() };
}

describe('upstream over a Unix domain socket', () => {
  let dir: string;
  let app: SocketApp;
  let proxy: TestProxy;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'argus-uds-'));
    app = await startSocketApp(dir);
    proxy = await startTestProxy({
      upstream: { url: `unix:${app.path}` },
      routes: [
        { path: '/ws/*', auth: 'none', websocket: {} },
        { path: '/*', auth: 'none' },
      ],
    });
  });

  after(async () => {
    await proxy.stop();
    app.server.closeAllConnections();
    await new Promise((r) => app.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the app listens on the socket only: no TCP address to reach it around the sidecar', () => {
    assert.equal(app.server.address(), app.path);
  });

  it('forwards a GET with the client Host and a POST with its body', async () => {
    const r = await get(`${proxy.url}/hello?x=1`);
    assert.equal(r.status, 200, r.body);
    const seen = JSON.parse(r.body) as { method: string; url: string; host: string };
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.host, `127.0.0.1:${proxy.port}`);

    const p = await post(`${proxy.url}/echo`, { 'content-type': 'text/plain' }, 'over the socket');
    assert.equal(p.status, 200, p.body);
    assert.equal((JSON.parse(p.body) as { body: string }).body, 'over the socket');
  });

  it('keeps connections alive: many requests, few sockets', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await get(`${proxy.url}/n/${i}`)).status, 200);
    const sockets = new Set(app.seen.map((r) => r.socket));
    assert.ok(sockets.size < 10, `${sockets.size} upstream sockets for ${app.seen.length} requests`);
  });

  it('streams an SSE response unbuffered: the first event arrives while the app holds the second', async () => {
    const res = await fetch(`${proxy.url}/sse`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('data: first\n\n')) {
      const { value, done } = await reader.read();
      assert.ok(!done, `stream ended early: ${JSON.stringify(text)}`);
      text += Buffer.from(value).toString();
    }
    assert.doesNotMatch(text, /second/);
    app.releaseSse();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    assert.equal(text, 'data: first\n\ndata: second\n\n');
  });

  it('relays a WebSocket over the same socket (handshake Host: localhost)', async () => {
    const c = await connectWs(`ws://127.0.0.1:${proxy.port}/ws/feed?s=1`);
    await waitFor(() => c.messages.length >= 1, 5000);
    assert.deepEqual(JSON.parse(c.messages[0]!.data.toString()), { hello: '/ws/feed?s=1', host: 'localhost' });
    c.ws.send('ping over uds');
    c.ws.send(Buffer.from([1, 2, 3]));
    await waitFor(() => c.messages.length >= 3, 5000);
    assert.equal(c.messages[1]!.data.toString(), 'ping over uds');
    assert.equal(c.messages[1]!.binary, false);
    assert.deepEqual([...c.messages[2]!.data], [1, 2, 3]);
    assert.equal(c.messages[2]!.binary, true);
    c.ws.close(1000);
    assert.equal((await c.closed).code, 1000);
  });
});

describe('upstream socket missing', () => {
  it('a socket path nobody listens on answers 502 ARGUS_UPSTREAM_UNAVAILABLE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'argus-uds-'));
    const proxy = await startTestProxy({ upstream: { url: `unix:${join(dir, 'absent.sock')}` }, routes: [{ path: '/*', auth: 'none' }] });
    try {
      const r = await get(`${proxy.url}/x`);
      assert.equal(r.status, 502, r.body);
      assert.equal(errorCode(r), 'ARGUS_UPSTREAM_UNAVAILABLE');
      const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
      assert.match(metrics, /argus_upstream_errors_total\{kind="refused"\} 1/, 'a missing socket file counts as refused');
    } finally {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('upstream.url validation', () => {
  const config = (url: string) => `upstream: { url: "${url}" }\nroutes:\n  - path: /*\n    auth: none\n`;
  for (const [url, message] of [
    ['unix:run/app.sock', /upstream\.url: expected unix:\/absolute\/path\/to\/app\.sock/],
    [`unix:/${'a'.repeat(120)}.sock`, /upstream\.url: socket path is \d+ bytes; Linux allows at most 107/],
    ['https://127.0.0.1:3000', /upstream\.url: only http:\/\/ and unix: are supported, got https:/],
    ['not a url', /upstream\.url: expected http:\/\/host:port or unix:\/path\/to\/app\.sock/],
  ] as const) {
    it(`${url.slice(0, 30)} exits 2 naming upstream.url`, async () => {
      const r = await runCli(['proxy', '--config', writeConfig(config(url))]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});
