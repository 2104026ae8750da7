/**
 * Outcome: /readyz tells why JWT auth is not ready. A JWKS that was never
 * fetched (an unreachable or placeholder `jwks_url`, as config/argus.yaml ships
 * offline) is 503 with `jwks.state: "never_fetched"` and the fetch error; a key
 * set that was loaded and then could not be refreshed is still served (`stale`,
 * 200) until `max_stale_ms`, then 503 `expired` (down). Real proxies on port 0.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';

interface Readyz {
  status: string;
  checks: Record<string, boolean>;
  jwks?: { state: string; source: string; failures: number; last_error?: string; age_s?: number };
}
const readyz = async (p: TestProxy) => {
  const r = await fetch(`${p.adminUrl}/readyz`);
  return { status: r.status, body: (await r.json()) as Readyz };
};

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('/readyz and the JWKS', () => {
  const stops: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const s of stops.reverse()) await s();
  });

  it('never fetched: 503, jwks.state "never_fetched" with the fetch error', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/.well-known/jwks.json`;
    const proxy = await startTestProxy({
      upstream: { url: 'http://127.0.0.1:9' },
      auth: { jwt: { jwks_url: url, issuer: 'https://i.test', audience: 'a', fetch_timeout_ms: 300 } },
      routes: [{ path: '/*' }],
    });
    stops.push(() => proxy.stop());
    await waitFor(async () => ((await readyz(proxy)).body.jwks?.failures ?? 0) >= 1, 10000, 'a failed fetch');
    const { status, body } = await readyz(proxy);
    assert.equal(status, 503);
    assert.equal(body.checks['auth'], false);
    assert.equal(body.jwks?.state, 'never_fetched');
    assert.equal(body.jwks?.source, url);
    assert.match(String(body.jwks?.last_error), /fetch failed|ECONNREFUSED/);
    assert.equal(body.jwks?.age_s, undefined);
  });

  it('fetched, then the endpoint fails: "stale" and ready, then "expired" and 503', async () => {
    const jwks: JwksServer = await startJwksServer();
    stops.push(() => jwks.close());
    const proxy = await startTestProxy({
      upstream: { url: 'http://127.0.0.1:9' },
      auth: {
        jwt: {
          jwks_url: jwks.url,
          issuer: 'https://i.test',
          audience: 'a',
          refresh_ms: 1000,
          refetch_cooldown_ms: 0,
          max_stale_ms: 3000,
          fetch_timeout_ms: 300,
        },
      },
      routes: [{ path: '/*' }],
    });
    stops.push(() => proxy.stop());
    await waitFor(async () => (await readyz(proxy)).status === 200, 10000, 'ready');
    assert.equal((await readyz(proxy)).body.jwks?.state, 'fresh');
    jwks.fail(true);
    await waitFor(async () => (await readyz(proxy)).body.jwks?.state === 'stale', 15000, 'stale');
    const stale = await readyz(proxy);
    assert.equal(stale.status, 200, 'the last good key set is still served');
    await waitFor(async () => (await readyz(proxy)).body.jwks?.state === 'expired', 15000, 'expired');
    const down = await readyz(proxy);
    assert.equal(down.status, 503);
    assert.ok((down.body.jwks?.age_s ?? 0) >= 3);
  });
});
