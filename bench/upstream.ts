/**
 * Benchmark upstream: the fastest "return 200" this machine can serve (uWS, the
 * stand-in for nginx `return 200`), plus /sse/N for stream benchmarks.
 * Usage: node dist/bench/upstream.js PORT
 */
import { loadUws } from '../src/server/uws.js';

const port = Number(process.argv[2] ?? 3000);
const uws = loadUws();
const app = uws.App();
app.get('/sse/:n', (res, req) => {
  const n = Number(req.getParameter(0));
  let aborted = false;
  res.onAborted(() => (aborted = true));
  res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'text/event-stream'));
  let i = 0;
  const tick = () => {
    if (aborted) return;
    if (i >= n) return void res.cork(() => res.end());
    res.cork(() => res.write(`data: {"i":${i++}}\n\n`));
    setImmediate(tick);
  };
  tick();
});
app.any('/*', (res) => {
  res.end('ok');
});
app.listen('127.0.0.1', port, (s) => {
  if (!s) {
    console.error(`bench upstream: cannot listen on ${port}`);
    process.exit(1);
  }
  console.log(JSON.stringify({ msg: 'upstream listening', port }));
});
