/**
 * `threads: 2`: two uWS apps in worker threads on one port behave as one sidecar.
 * Rate limits hold per sidecar (shared buckets), not per thread; the admin port's
 * metrics add up every thread's; drain stops both threads.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/index.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('threads: 2', () => {
  let up: RecordingUpstream;
  let proxy: TestProxy;
  const key = generateApiKey();

  before(async () => {
    up = await startUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'argus-threads-'));
    writeFileSync(join(dir, 'keys.yaml'), `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: threaded, tier: explorer }\n`);
    proxy = await startTestProxy({
      threads: 2,
      upstream: { url: up.url },
      auth: { api_keys: { file: join(dir, 'keys.yaml') } },
      tiers: { explorer: { requests_per_minute: 60, burst: 9 } },
      routes: [{ path: '/*', auth: 'required' }],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  it('runs two threads on one port', () => {
    assert.equal(proxy.threads, 2);
  });

  it('enforces one limit across both threads (burst + 1 admitted, not twice that)', async () => {
    // 40 requests, each on its own connection: the kernel spreads them over both threads.
    const statuses = await Promise.all(Array.from({ length: 40 }, () => get(`${proxy.url}/x`, { 'x-api-key': key.key })));
    const ok = statuses.filter((s) => s === 200).length;
    // 10 at once, plus at most one more token (one per second) while the burst runs.
    assert.ok(ok >= 10 && ok <= 11, `${ok} admitted`);
    assert.equal(statuses.filter((s) => s === 429).length, 40 - ok);
  });

  it('adds up every thread in the admin metrics', async () => {
    const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
    const sum = (status: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('argus_requests_total{') && l.includes(`status="${status}"`))
        .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
    assert.equal(sum('200') + sum('429'), 40);
    assert.match(text, /argus_process_process_resident_memory_bytes/);
    const ready = await fetch(`${proxy.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
  });
});

describe('threads: 2, scope global without Redis (the local share)', () => {
  let up: RecordingUpstream;
  let proxy: TestProxy;
  const key = generateApiKey();

  before(async () => {
    up = await startUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'argus-threads-'));
    writeFileSync(join(dir, 'keys.yaml'), `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: shared, tier: explorer }\n`);
    proxy = await startTestProxy({
      threads: 2,
      upstream: { url: up.url },
      auth: { api_keys: { file: join(dir, 'keys.yaml') } },
      tiers: { explorer: { requests_per_minute: 60, burst: 19 } },
      // No Redis: every global check is decided by this sidecar's share, limit / replicas.
      ratelimit: { scope: 'global', replicas: 2 },
      routes: [{ path: '/*', auth: 'required' }],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  it('admits the share once per sidecar, not once per thread', async () => {
    const statuses = await Promise.all(Array.from({ length: 40 }, () => get(`${proxy.url}/x`, { 'x-api-key': key.key })));
    const ok = statuses.filter((s) => s === 200).length;
    // Share: burst floor(19 / 2) = 9, so 10 at once, plus at most one more token (one per 2 s) while the burst runs.
    assert.ok(ok >= 10 && ok <= 11, `${ok} admitted`);
    assert.equal(statuses.filter((s) => s === 429).length, 40 - ok);
  });
});
