/**
 * Tracing through real processes: a client request with a `traceparent` makes the
 * sidecar export (OTLP/HTTP to a receiver stand-in) a server span that is a child
 * of the client's span, and the upstream gets a `traceparent` whose parent is
 * that span; a malformed one starts a new trace and never reaches the upstream;
 * WebSocket upgrades carry the sidecar's context too; with sampling 0 nothing
 * is exported for successful requests, while refusals are (refused_ratio 1).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './support/auth-harness.js';
import { get } from './support/http.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';
import { connectWs, startWsUpstream, type WsUpstream } from './support/ws-upstream.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

function tracing(endpoint: string, extra: Record<string, unknown> = {}) {
  return { tracing: { enabled: true, endpoint, export_interval_ms: 20, headers: { 'x-collector-token': 'abc' }, service_name: 'sibyl-sidecar', ...extra } };
}

describe('tracing: W3C trace context and OTLP spans', () => {
  let otlp: OtlpReceiver;
  let up: RecordingUpstream;
  let wsUp: WsUpstream;
  let proxy: TestProxy;
  let wsProxy: TestProxy;
  let dir: string;
  const key = generateApiKey();

  before(async () => {
    otlp = await startOtlpReceiver();
    up = await startUpstream();
    wsUp = await startWsUpstream();
    dir = mkdtempSync(join(tmpdir(), 'argus-tracing-'));
    writeFileSync(join(dir, 'keys.yaml'), `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: u_traced, tier: business }\n`);
    proxy = await startTestProxy({
      upstream: { url: up.url },
      auth: { api_keys: { file: join(dir, 'keys.yaml') } },
      ratelimit: { enabled: false },
      routes: [
        { path: '/pub/*', auth: 'none' },
        { path: '/*', auth: 'required' },
      ],
      observability: tracing(otlp.url),
    });
    wsProxy = await startTestProxy({
      upstream: { url: wsUp.url },
      ratelimit: { enabled: false },
      routes: [{ path: '/ws/*', auth: 'none', websocket: {} }],
      observability: tracing(otlp.url),
    });
  });
  after(async () => {
    await proxy.stop();
    await wsProxy.stop();
    await up.close();
    await wsUp.close();
    await otlp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const spanOf = async (pred: (s: ReceivedSpan) => boolean, what: string): Promise<ReceivedSpan> => {
    await until(() => otlp.spans.some(pred), what, 10000);
    return otlp.spans.find(pred)!;
  };
  const upstreamHeader = (path: string, name: string) => up.seen.find((s) => s.url === path)?.headers[name];

  it("exports the sidecar's span as a child of the client's, and names it to the upstream", async () => {
    const r = await get(`${proxy.url}/v1/things/1?x=1`, {
      traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
      tracestate: 'congo=t61rcWkgMzE',
      'x-api-key': key.key,
    });
    assert.equal(r.status, 200);
    const span = await spanOf((s) => s.traceId === CLIENT_TRACE && s.parentSpanId === CLIENT_SPAN, 'the child span');
    assert.equal(span.kind, 2, 'SERVER');
    assert.equal(span.name, 'GET /*');
    assert.equal(span.serviceName, 'sibyl-sidecar');
    assert.equal(span.attributes['http.request.method'], 'GET');
    assert.equal(span.attributes['http.route'], '/*');
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.attributes['argus.auth.kind'], 'api_key');
    assert.equal(span.attributes['argus.tier'], 'business');
    assert.equal(span.attributes['argus.decision'], 'allowed');
    for (const stage of ['route', 'authenticate', 'authorize', 'upstream.request', 'upstream.first_byte'])
      assert.ok(span.events.includes(stage), `event ${stage} in ${span.events.join(',')}`);
    // Never the key, and never the query (where a WebSocket token travels).
    assert.ok(!JSON.stringify(span).includes(key.key));
    assert.equal(span.attributes['url.path'], '/v1/things/1');
    // The upstream's parent is the sidecar's span; the caller's tracestate travels on.
    assert.equal(upstreamHeader('/v1/things/1?x=1', 'traceparent'), `00-${CLIENT_TRACE}-${span.spanId}-01`);
    assert.equal(upstreamHeader('/v1/things/1?x=1', 'tracestate'), 'congo=t61rcWkgMzE');
    assert.equal(otlp.requests[0]?.headers['x-collector-token'], 'abc');
  });

  it('starts a new trace for a malformed traceparent and never forwards it', async () => {
    const bad = `00-${CLIENT_TRACE.toUpperCase()}-${CLIENT_SPAN}-01`;
    const r = await get(`${proxy.url}/pub/malformed`, { traceparent: bad, tracestate: 'congo=1' });
    assert.equal(r.status, 200);
    const sent = String(upstreamHeader('/pub/malformed', 'traceparent'));
    assert.match(sent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    assert.notEqual(sent.slice(3, 35), CLIENT_TRACE);
    assert.equal(upstreamHeader('/pub/malformed', 'tracestate'), undefined, 'no tracestate without a valid parent');
    const span = await spanOf((s) => s.traceId === sent.slice(3, 35), 'the new root span');
    assert.equal(span.parentSpanId, '');
    assert.equal(span.spanId, sent.slice(36, 52));
  });

  it('starts a trace when none came in, and refusals carry their code', async () => {
    const r = await get(`${proxy.url}/v1/private`, {});
    assert.equal(r.status, 401);
    const span = await spanOf(
      (s) => s.attributes['argus.decision'] === 'ARGUS_MISSING_CREDENTIAL' || s.attributes['http.response.status_code'] === 401,
      'the 401 span',
    );
    assert.equal(span.parentSpanId, '');
    assert.equal(span.attributes['http.response.status_code'], 401);
    assert.match(String(span.attributes['argus.decision']), /^ARGUS_/);
  });

  it("sends the sidecar's traceparent on WebSocket upgrades", async () => {
    const c = await connectWs(`${wsProxy.url.replace('http', 'ws')}/ws/echo`, [], { headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` } });
    c.ws.close(1000);
    await c.closed;
    const seen = wsUp.upgrades.find((u) => u.url === '/ws/echo');
    const sent = String(seen?.headers['traceparent']);
    assert.match(sent, new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));
    assert.notEqual(sent.slice(36, 52), CLIENT_SPAN);
    await spanOf((s) => s.traceId === CLIENT_TRACE && s.spanId === sent.slice(36, 52) && s.parentSpanId === CLIENT_SPAN, 'the upgrade span');
  });
});

describe('tracing: sampling 0 exports nothing for successful requests', () => {
  let otlp: OtlpReceiver;
  let up: RecordingUpstream;
  let proxy: TestProxy;

  before(async () => {
    otlp = await startOtlpReceiver();
    up = await startUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      ratelimit: { enabled: false },
      routes: [
        { path: '/pub/*', auth: 'none' },
        { path: '/*', auth: 'required' },
      ],
      observability: tracing(otlp.url, { sample_ratio: 0, parent_based: false }),
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
    await otlp.close();
  });

  it('exports no span for 50 successful requests; the refusal after them is exported alone', async () => {
    for (let i = 0; i < 50; i++) {
      const r = await get(`${proxy.url}/pub/ok/${i}`, i % 2 ? { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` } : {});
      assert.equal(r.status, 200);
    }
    // Not sampled, still propagated: a new trace (flag 00) when none came in; the caller's traceparent,
    // unchanged, when one did (the sidecar recorded nothing to be a parent of).
    assert.match(String(up.seen[0]?.headers['traceparent']), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.equal(up.seen[1]?.headers['traceparent'], `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`);
    // Spans leave in the order they ended: once the refusal's span is in, any earlier one would be too.
    assert.equal((await get(`${proxy.url}/private`, {})).status, 401);
    await until(() => otlp.spans.length > 0, 'the refusal span', 10000);
    await proxy.stop();
    assert.equal(otlp.spans.length, 1, JSON.stringify(otlp.spans.map((s) => s.name)));
    assert.equal(otlp.spans[0]!.attributes['http.response.status_code'], 401);
  });
});
