/** Upstream failures become 502/504 with the contract's JSON body; client aborts abort the upstream. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { get } from './support/http.js';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('upstream failures', () => {
  let up: RecordingUpstream;
  let proxy: TestProxy;
  let refused: TestProxy;
  before(async () => {
    up = await startUpstream();
    proxy = await startTestProxy({ upstream: { url: up.url, headers_timeout_ms: 300 }, routes: [{ path: '/*', auth: 'none' }] });
    refused = await startTestProxy({ upstream: { url: `http://127.0.0.1:${await closedPort()}` }, routes: [{ path: '/*', auth: 'none' }] });
  });
  after(async () => {
    await proxy.stop();
    await refused.stop();
    await up.close();
  });

  it('answers 502 ARGUS_UPSTREAM_UNAVAILABLE when the upstream refuses connections', async () => {
    const r = await get(`${refused.url}/x`);
    assert.equal(r.status, 502);
    const body = JSON.parse(r.body) as { error: { code: string; message: string; request_id: string } };
    assert.equal(body.error.code, 'ARGUS_UPSTREAM_UNAVAILABLE');
    assert.ok(body.error.request_id.length > 0);
  });

  it('answers 502 when the upstream resets the connection', async () => {
    const r = await get(`${proxy.url}/reset`);
    assert.equal(r.status, 502);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ARGUS_UPSTREAM_UNAVAILABLE');
  });

  it('answers 504 ARGUS_UPSTREAM_TIMEOUT when the upstream sends no headers in time', async () => {
    const r = await get(`${proxy.url}/hang`);
    assert.equal(r.status, 504);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ARGUS_UPSTREAM_TIMEOUT');
  });

  it('keeps serving after failures and counts them', async () => {
    const ok = await get(`${proxy.url}/echo`);
    assert.equal(ok.status, 200);
    const text = await proxy.metrics.registry.metrics();
    assert.match(text, /argus_upstream_errors_total\{kind="timeout"\} [1-9]/);
    assert.match(text, /argus_upstream_errors_total\{kind="reset"\} [1-9]/);
  });

  it('aborts the upstream request when the client goes away', async () => {
    const before = up.seen.length;
    const req = http.get(`${proxy.url}/slow/3000`, { agent: false });
    req.on('error', () => undefined);
    await waitFor(() => up.seen.length > before, 5000, 'upstream to see the request');
    req.destroy();
    const seen = up.seen[before]!;
    await waitFor(() => seen.aborted, 5000, 'upstream request to be aborted');
    assert.equal(seen.aborted, true);
    // Nothing leaks: the exchange is finished and counted as a client abort (499).
    await waitFor(async () => (await proxy.inflight()) === 0, 5000, 'no request in flight');
    assert.match(await proxy.metrics.registry.metrics(), /argus_requests_total\{route="\/\*",method="GET",status="499"\} 1/);
    assert.match(await proxy.metrics.registry.metrics(), /argus_inflight_requests 0/);
  });
});
