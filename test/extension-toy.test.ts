/**
 * A product vertical is one folder and one registration: a toy extension,
 * registered here (src/extensions/registered.ts), adds its own route key, key
 * record entitlement, error code and usage kind. Through a real proxy it refuses
 * a caller without its entitlement with its own code (403 ARGUS_TOY_NOT_ALLOWED),
 * and records its own `toy` usage event for an entitled one, in the usage queue
 * beside the core's `request` event.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { generateApiKey } from '../src/authenticate/index.js';
import { deny } from '../src/errors.js';
import type { RouteExtension } from '../src/extensions/contract.js';
import { registerExtension } from '../src/extensions/registered.js';
import { registerUsageKind, sidecarEventId, type UsageEvent } from '../src/meter/events.js';
import { decodeBatch } from '../src/meter/wire.js';
import { errorCode, request } from './support/http.js';
import { obliterateQueue, rand, SHARED_REDIS, tempDir, waitFor } from './support/meter-env.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

const toyEntitlement = z.object({ units_per_request: z.number().int().positive() }).strict();
const toyRoute = z
  .object({ product: z.string().min(1) })
  .strict()
  .optional();

/** The whole toy vertical: what `src/<product>/extension.ts` would export. */
const toy: RouteExtension = {
  name: 'toy',
  routeSchema: toyRoute,
  entitlementSchema: toyEntitlement,
  errors: { ARGUS_TOY_NOT_ALLOWED: 403 },
  usedBy: (route) => (route as unknown as Record<string, unknown>)['toy'] !== undefined,
  meters: true,
  // The core carries the entitlement opaquely under the extension's name; the extension parses it.
  authorize(ctx) {
    const parsed = toyEntitlement.safeParse((ctx as unknown as Record<string, unknown>)['toy']);
    return parsed.success ? null : deny('ARGUS_TOY_NOT_ALLOWED' as never, 'no toy entitlement for this account');
  },
  start(deps) {
    return {
      async prepare(ex, route, ctx) {
        const body = ex.body ? ((await ex.body.collect(1024)) ?? new Uint8Array(0)) : new Uint8Array(0);
        const units = toyEntitlement.parse((ctx as unknown as Record<string, unknown>)['toy']).units_per_request;
        const product = toyRoute.parse((route.cfg as unknown as Record<string, unknown>)['toy'])!.product;
        return {
          body,
          clientHeaders: (h) => h.filter((_v, i) => h[i - (i % 2)] !== 'content-length'),
          extraHeaders: [],
          relayOptions: () => ({
            observer: {
              onEnd: () => {
                if (!deps.usage) return;
                const ev = {
                  ...deps.usage.base(ex, ctx),
                  event_id: sidecarEventId(ex.eventKey(), 'toy'),
                  kind: 'toy',
                  quantity: units,
                  occurred_at: Date.now(),
                  toy_product: product,
                };
                deps.usage.record(ev as unknown as UsageEvent);
              },
            },
          }),
          release: () => undefined,
        };
      },
    };
  },
};

describe('a toy extension registered in a test', () => {
  let upstream: RecordingUpstream;
  let proxy: TestProxy;
  const queue = `toy-${rand()}`;
  // obliterateQueue cleans only prefixes of this shape (argus-test-<hex>:).
  const prefix = `argus-test-${rand()}:`;
  const tmp = tempDir();
  const entitled = generateApiKey();
  const plain = generateApiKey();

  before(async () => {
    registerExtension(toy);
    registerUsageKind('toy', [['toy_product', 'text']]);
    upstream = await startUpstream();
    const keyFile = `${tmp.dir}/keys.yaml`;
    writeFileSync(
      keyFile,
      [
        `- { key_id: ${entitled.key_id}, sha256: ${entitled.sha256}, user_id: toy_user, tier: business, toy: { units_per_request: 7 } }`,
        `- { key_id: ${plain.key_id}, sha256: ${plain.sha256}, user_id: plain_user, tier: business }`,
        '',
      ].join('\n'),
    );
    proxy = await startTestProxy({
      upstream: { url: upstream.url },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: { api_keys: { file: keyFile } },
      metering: { queue, spool_dir: `${tmp.dir}/spool`, service: 'toyland', flush_interval_ms: 5 },
      routes: [
        { path: '/toy/*', auth: 'required', toy: { product: 'blocks' } },
        { path: '/*', auth: 'required' },
      ],
    });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.close();
    await obliterateQueue(SHARED_REDIS, queue, prefix);
    tmp.remove();
  });

  it('refuses a caller without its entitlement with its own code, before the upstream', async () => {
    const before = upstream.seen.length;
    const r = await request(`${proxy.url}/toy/build`, { method: 'POST', headers: { 'x-api-key': plain.key }, body: 'x' });
    assert.equal(r.status, 403);
    assert.equal(errorCode(r), 'ARGUS_TOY_NOT_ALLOWED');
    assert.equal(upstream.seen.length, before);
    // Routes that do not use the extension are untouched by it.
    assert.equal((await request(`${proxy.url}/other`, { headers: { 'x-api-key': plain.key } })).status, 200);
  });

  it('records its own usage event for an entitled caller, beside the request event', async () => {
    const r = await request(`${proxy.url}/toy/build`, { method: 'POST', headers: { 'x-api-key': entitled.key, 'x-request-id': 'toy-req-1' }, body: 'bricks' });
    assert.equal(r.status, 200);
    const forwarded = upstream.seen.find((s) => s.url === '/toy/build' && s.method === 'POST');
    assert.ok(forwarded, 'the entitled request reached the upstream');
    assert.equal(forwarded.bytes, 6);

    const q = new Queue(queue, { connection: { host: '127.0.0.1', port: 6379 }, prefix: `${prefix}bull` });
    try {
      const events = await waitFor('the toy event in the usage queue', async () => {
        const all: Array<Record<string, unknown>> = [];
        for (const job of await q.getJobs(['waiting', 'active', 'completed', 'delayed', 'failed', 'paused'])) {
          if (job) all.push(...(decodeBatch(job.name, job.data) as Array<Record<string, unknown>>));
        }
        const mine = all.filter((e) => e['request_id'] === 'toy-req-1');
        return mine.some((e) => e['kind'] === 'toy') && mine.some((e) => e['kind'] === 'request') ? mine : undefined;
      });
      const ev = events.find((e) => e['kind'] === 'toy')!;
      assert.equal(ev['quantity'], 7);
      assert.equal(ev['toy_product'], 'blocks');
      assert.equal(ev['user_id'], 'toy_user');
      assert.equal(ev['key_id'], entitled.key_id);
      assert.equal(ev['service'], 'toyland');
      assert.equal(ev['route'], '/toy/*');
    } finally {
      await q.close();
    }
  });
});
