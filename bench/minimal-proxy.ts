/**
 * The reference point of the foundation issue: a minimal uWS → upstream
 * passthrough with no checks at all, over undici's `Pool.dispatch` (default) or
 * the proxy's own HTTP/1.1 client (`h1`). The head goes out with the body in one
 * cork, as the sidecar's relay does. The sidecar's passthrough route is compared
 * against it in the same run.
 * Usage: node dist/bench/minimal-proxy.js PORT UPSTREAM_URL [undici|h1]
 */
import { Pool, type Dispatcher } from 'undici';
import { H1Pool } from '../src/forward/h1/pool.js';
import { loadUws, type HttpResponse } from '../src/server/uws.js';

const port = Number(process.argv[2]);
const upstream = process.argv[3]!;
const client = process.argv[4] ?? 'undici';
process.on('SIGINT', () => process.exit(0));
const uws = loadUws();

/** Collects the response and writes it to the client in one cork. */
class Reply {
  aborted = false;
  status = '200';
  chunks: Buffer[] = [];
  constructor(readonly res: HttpResponse) {
    res.onAborted(() => (this.aborted = true));
  }
  end(): void {
    if (this.aborted) return;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.res.cork(() => this.res.writeStatus(this.status).end(body));
  }
  fail(): void {
    if (!this.aborted) this.res.cork(() => this.res.writeStatus('502').end());
  }
}

let forward: (path: string, r: Reply) => void;
if (client === 'h1') {
  const pool = new H1Pool({ url: upstream, connections: 128, keepAliveTimeoutMs: 4000, headersTimeoutMs: 10000, bodyTimeoutMs: 300000 });
  const none: string[] = [];
  forward = (path, r) =>
    pool.dispatch(
      { method: 'GET', path, headers: none, body: null },
      {
        onResponseStart: (_c, status) => void (r.status = String(status)),
        onResponseData: (_c, chunk) => void r.chunks.push(chunk),
        onResponseEnd: () => r.end(),
        onResponseError: () => r.fail(),
      },
    );
} else {
  const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
  forward = (path, r) => {
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart: (_c, status) => void (r.status = String(status)),
      onResponseData: (_c, chunk) => void r.chunks.push(chunk),
      onResponseEnd: () => r.end(),
      onResponseError: () => r.fail(),
    };
    pool.dispatch({ method: 'GET', path, headers: [] }, handler);
  };
}

uws
  .App()
  .any('/*', (res, req) => forward(req.getUrl(), new Reply(res)))
  .listen('127.0.0.1', port, (s) => {
    if (!s) process.exit(1);
    console.log(JSON.stringify({ msg: 'minimal proxy listening', port, client }));
  });
