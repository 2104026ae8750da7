/**
 * The per-request metrics kept in plain numbers (src/observe/request-metrics.ts):
 * counts by route, method and status and the duration histogram by route, as a
 * Prometheus scrape renders them, and a registry reset.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { RequestMetrics } from '../src/observe/request-metrics.js';

/** The value of one sample line of a scrape (undefined when absent). */
function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('request metrics', () => {
  it('counts by route, method and status, and times by route', async () => {
    const registry = new Registry();
    const m = new RequestMetrics(registry);
    // Fresh strings each time, as uWS hands them over: the counts must not depend on string identity.
    const fresh = (s: string) => s.split('').join('');
    for (let i = 0; i < 3; i++) m.observe(fresh('/v1/a'), fresh('GET'), 200, 0.0004);
    m.observe('/v1/a', 'GET', 404, 0.003);
    m.observe('/v1/a', 'POST', 200, 0.2);
    m.observe('/v1/b', 'GET', 200, 40);
    const text = await registry.metrics();
    assert.equal(sample(text, 'argus_requests_total{route="/v1/a",method="GET",status="200"}'), 3);
    assert.equal(sample(text, 'argus_requests_total{route="/v1/a",method="GET",status="404"}'), 1);
    assert.equal(sample(text, 'argus_requests_total{route="/v1/a",method="POST",status="200"}'), 1);
    assert.equal(sample(text, 'argus_requests_total{route="/v1/b",method="GET",status="200"}'), 1);
    assert.equal(text.match(/^argus_requests_total\{/gm)?.length, 4, 'one series per route, method and status');
    assert.equal(sample(text, 'argus_request_duration_seconds_bucket{le="0.0005",route="/v1/a"}'), 3);
    assert.equal(sample(text, 'argus_request_duration_seconds_bucket{le="0.005",route="/v1/a"}'), 4);
    assert.equal(sample(text, 'argus_request_duration_seconds_bucket{le="0.25",route="/v1/a"}'), 5);
    assert.equal(sample(text, 'argus_request_duration_seconds_bucket{le="30",route="/v1/b"}'), 0);
    assert.equal(sample(text, 'argus_request_duration_seconds_bucket{le="+Inf",route="/v1/b"}'), 1);
    assert.equal(sample(text, 'argus_request_duration_seconds_count{route="/v1/a"}'), 5);
    assert.ok(Math.abs(sample(text, 'argus_request_duration_seconds_sum{route="/v1/a"}')! - 0.2042) < 1e-9);
  });

  it('a registry reset drops every series; later requests start from zero', async () => {
    const registry = new Registry();
    const m = new RequestMetrics(registry);
    m.observe('/v1/a', 'GET', 200, 0.001);
    m.observe('/v1/b', 'GET', 500, 0.001);
    registry.resetMetrics();
    let text = await registry.metrics();
    assert.doesNotMatch(text, /^argus_requests_total\{/m);
    assert.doesNotMatch(text, /^argus_request_duration_seconds_count\{/m);
    m.observe('/v1/a', 'GET', 200, 0.001);
    text = await registry.metrics();
    assert.equal(sample(text, 'argus_requests_total{route="/v1/a",method="GET",status="200"}'), 1);
    assert.equal(sample(text, 'argus_requests_total{route="/v1/b",method="GET",status="500"}'), undefined);
    assert.equal(sample(text, 'argus_request_duration_seconds_count{route="/v1/a"}'), 1);
    assert.equal(sample(text, 'argus_request_duration_seconds_count{route="/v1/b"}'), undefined);
  });
});
