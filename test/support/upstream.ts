/**
 * A recording upstream for tests: a real node:http server on 127.0.0.1:0 that
 * remembers every request it saw (method, url, raw headers, body digest) and
 * answers according to the path:
 *   /echo…       JSON of what it received
 *   /bytes/N     N pseudo-random bytes with Content-Length
 *   /chunked/N   N bytes, chunked, in 64 KiB writes
 *   /slow/MS     answers after MS milliseconds
 *   /hang        never answers (headers timeout)
 *   /reset       destroys the socket
 *   /hop         answers with hop-by-hop headers that must not reach the client
 *   /sse/N       N server-sent events, one write each, waiting for `release()` between them
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: IncomingMessage['headers'];
  bytes: number;
  sha256: string;
  aborted: boolean;
  /** Bytes received when the request arrived (before the body completed). */
  firstChunkAt: number;
}

export interface RecordingUpstream {
  readonly url: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** Bytes of request bodies received so far, across requests (for streaming checks). */
  bodyBytes(): number;
  /** Let the next SSE event go. */
  release(): void;
  close(): Promise<void>;
}

export function patternBytes(n: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

export async function startUpstream(): Promise<RecordingUpstream> {
  const seen: SeenRequest[] = [];
  let totalBody = 0;
  let releases = 0;
  const releaseWaiters: Array<() => void> = [];
  const waitRelease = () =>
    new Promise<void>((resolve) => {
      if (releases > 0) {
        releases--;
        resolve();
      } else releaseWaiters.push(resolve);
    });

  const server: Server = createServer((req, res) => {
    const hash = createHash('sha256');
    const rec: SeenRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      headers: req.headers,
      bytes: 0,
      sha256: '',
      aborted: false,
      firstChunkAt: -1,
    };
    seen.push(rec);
    req.on('data', (d: Buffer) => {
      if (rec.firstChunkAt < 0) rec.firstChunkAt = rec.bytes;
      rec.bytes += d.length;
      totalBody += d.length;
      hash.update(d);
    });
    req.on('aborted', () => (rec.aborted = true));
    res.on('close', () => {
      if (!res.writableFinished) rec.aborted = true;
    });
    req.on('end', () => {
      rec.sha256 = hash.digest('hex');
      void respond(req, res, rec, waitRelease);
    });
  });
  server.keepAliveTimeout = 60000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    bodyBytes: () => totalBody,
    release: () => {
      const w = releaseWaiters.shift();
      if (w) w();
      else releases++;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function respond(req: IncomingMessage, res: ServerResponse, rec: SeenRequest, waitRelease: () => Promise<void>): Promise<void> {
  const url = req.url ?? '/';
  const [, kind = '', arg = ''] = /^\/([a-z]+)\/?([^?]*)/.exec(url) ?? [];
  switch (kind) {
    case 'bytes': {
      const body = patternBytes(Number(arg));
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
        'x-sha256': createHash('sha256').update(body).digest('hex'),
      });
      res.end(body);
      return;
    }
    case 'chunked': {
      const body = patternBytes(Number(arg));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-sha256': createHash('sha256').update(body).digest('hex') });
      for (let i = 0; i < body.length; i += 65536) {
        if (!res.write(body.subarray(i, i + 65536))) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return;
    }
    case 'slow':
      await new Promise((r) => setTimeout(r, Number(arg)));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('slow done');
      return;
    case 'hang':
      return;
    case 'reset':
      req.socket.destroy();
      return;
    case 'hop':
      res.writeHead(200, {
        'content-type': 'text/plain',
        connection: 'keep-alive, x-hop-named',
        'keep-alive': 'timeout=5',
        'x-hop-named': 'secret',
        'proxy-authenticate': 'Basic',
        trailer: 'x-t',
        'x-kept': 'yes',
      });
      res.end('hop');
      return;
    case 'sse': {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (let i = 0; i < Number(arg); i++) {
        await waitRelease();
        res.write(`data: event ${i}\n\n`);
      }
      res.end();
      return;
    }
    default: {
      const body = JSON.stringify({ method: req.method, url, headers: req.headers, rawHeaders: req.rawHeaders, bytes: rec.bytes, sha256: rec.sha256 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  }
}
