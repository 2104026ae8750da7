/**
 * The demo app the standalone demo puts behind the sidecar: a JSON echo that
 * shows what the sidecar added (`x-argus-*`), a server-sent event stream, and a
 * WebSocket echo. node:http + ws: this is the app, not the sidecar.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface DemoUpstream {
  readonly port: number;
  close(): Promise<void>;
}

export async function startDemoUpstream(host: string, port: number): Promise<DemoUpstream> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    if (url.pathname === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const timer = setInterval(() => {
        res.write(`event: tick\ndata: {"n":${i},"user":${JSON.stringify(req.headers['x-argus-user-id'] ?? null)}}\n\n`);
        if (++i === 5) {
          clearInterval(timer);
          res.end();
        }
      }, 300);
      req.on('close', () => clearInterval(timer));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const identity = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => k.startsWith('x-argus-') || k.startsWith('x-forwarded-') || k === 'x-request-id'),
      );
      const body = JSON.stringify(
        {
          app: 'argus demo upstream',
          method: req.method,
          path: url.pathname,
          query: url.search,
          seen_by_app: identity,
          body: Buffer.concat(chunks).toString(),
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body + '\n');
    });
  });
  const wss = new WebSocketServer({ server });
  // ws re-emits the server's errors (EADDRINUSE): the listen below reports them, once.
  wss.on('error', () => undefined);
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ hello: req.headers['x-argus-user-id'] ?? 'anonymous' }));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
