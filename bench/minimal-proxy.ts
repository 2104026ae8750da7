/**
 * The reference point of the foundation issue: a minimal uWS → undici
 * `Pool.dispatch` passthrough with no checks at all. The sidecar's passthrough
 * route is compared against it in the same run.
 * Usage: node dist/bench/minimal-proxy.js PORT UPSTREAM_URL
 */
import { Pool, type Dispatcher } from 'undici';
import { loadUws } from '../src/server/uws.js';

const port = Number(process.argv[2]);
process.on('SIGINT', () => process.exit(0));
const pool = new Pool(process.argv[3]!, { connections: 128, pipelining: 1 });
const uws = loadUws();
uws
  .App()
  .any('/*', (res, req) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const path = req.getUrl();
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_c, status) {
        if (!aborted) res.cork(() => res.writeStatus(String(status)));
      },
      onResponseData(_c, chunk) {
        if (!aborted) res.cork(() => res.write(chunk));
      },
      onResponseEnd() {
        if (!aborted) res.cork(() => res.end());
      },
      onResponseError() {
        if (!aborted) res.cork(() => res.writeStatus('502').end());
      },
    };
    pool.dispatch({ method: 'GET', path, headers: [] }, handler);
  })
  .listen('127.0.0.1', port, (s) => {
    if (!s) process.exit(1);
    console.log(JSON.stringify({ msg: 'minimal proxy listening', port }));
  });
