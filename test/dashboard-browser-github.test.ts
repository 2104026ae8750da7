/**
 * Acceptance (issue 26, browser) in headless Chromium (/usr/bin/chromium,
 * playwright-core): open /login, click "Continue with GitHub", allow on the
 * stand-in's consent page, land on /account showing the tier; create a key on
 * the page and use it through a running sidecar (200), and the session cookie
 * itself passes the sidecar too (200); choose a plan and click "Upgrade",
 * follow the stand-in's checkout, deliver its signed webhook, and the page
 * shows the new tier; revoke the key on the page (the sidecar refuses it); log
 * out, and the old cookie is refused by the sidecar (401) and by the dashboard
 * (back to /login).
 *
 * Screenshots of /login and /account go to test-results/screenshots/ (kept by
 * CI; docs/img/ holds a copy for the README). The page runs at a phone's width.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { writeRaw } from './support/control.js';
import { SESSION_COOKIE, startDashboardEnv, type DashboardEnv } from './support/dashboard-env.js';
import { get } from './support/http.js';
import { startIdentityUpstream, type IdentityUpstream } from './support/identity-upstream.js';
import { waitFor } from './support/raw.js';
import { startCli, type StartedChild } from './support/spawn.js';

const CHROMIUM = '/usr/bin/chromium';
const fmt = (n: number) => new Intl.NumberFormat('en').format(n);
const SHOTS = join(fileURLToPath(new URL('../../', import.meta.url)), 'test-results', 'screenshots');

describe('the dashboard in a browser: GitHub sign-in, a key, an upgrade, sign-out', () => {
  let d: DashboardEnv;
  let up: IdentityUpstream;
  let proxy: StartedChild;
  let sidecar = '';
  let browser: Browser;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install the Debian package chromium (.ci/run does)`);
    up = await startIdentityUpstream();
    d = await startDashboardEnv({ upstream: up.url });
    proxy = startCli(['proxy', '--config', writeRaw(d.b.env.raw)]);
    sidecar = `http://127.0.0.1:${(await proxy.waitForLog('proxy listening'))['port']}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await d?.stop();
    await up?.close();
  });

  it('signs in, uses a key through the sidecar, upgrades, logs out', async () => {
    const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
    const page = await context.newPage();
    d.github.account = { id: '9001', email: 'grace@example.com', email_verified: true, name: 'Grace' };

    await page.goto(`${d.url}/login`);
    assert.equal(await page.title(), 'Sign in · Argus');
    await page.screenshot({ path: join(SHOTS, 'login.png'), fullPage: true });
    await page.getByRole('link', { name: 'Continue with GitHub' }).click();
    await page.waitForURL(`${d.github.url}/login/oauth/authorize?**`);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${d.url}/account`);
    assert.equal(await page.getByTestId('tier').textContent(), 'explorer');

    // A key made on the page works at the sidecar; so does the session cookie on its own.
    await page.getByRole('button', { name: 'Create API key' }).click();
    const key = (await page.getByTestId('new-key').textContent()) ?? '';
    assert.match(key, /^ak_/);
    const withKey = await get(`${sidecar}/v1/hello`, { 'x-api-key': key });
    assert.equal(withKey.status, 200);
    const cookie = (await context.cookies(d.url)).find((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie, 'the session cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Lax');
    const header = { cookie: `${SESSION_COOKIE}=${cookie.value}` };
    assert.equal((await get(`${sidecar}/v1/hello`, header)).status, 200);
    const userId = String(up.seen.at(-1)?.['x-argus-user-id']);
    assert.match(userId, /^u_/);

    // This month's ledger (the billing worker's table, written here directly): the charts sum it per day.
    const expected = await seedUsage(d, userId);
    await page.goto(`${d.url}/account`); // not reload(): that would post "Create API key" again
    assert.equal(await page.locator('section[aria-labelledby="keys"] tbody tr').count(), 1);
    assert.equal(await page.getByTestId('new-key').count(), 0, 'the key is shown once');
    assert.equal(
      await page.locator('#chart-requests').textContent(),
      `Requests per day: ${fmt(expected.requests)} requests this month, at most ${fmt(expected.maxRequests)} in a day`,
    );
    assert.equal(
      await page.locator('#chart-tokens').textContent(),
      `LLM tokens per day: ${fmt(expected.tokens)} tokens this month, at most ${fmt(expected.maxTokens)} in a day`,
    );
    assert.equal(await page.locator('svg[aria-labelledby="chart-requests"] rect').count(), new Date().getUTCDate());

    // Upgrade: the stand-in's hosted checkout, the customer pays, Stripe's signed webhook, back to the page.
    await page.getByLabel('Plan').selectOption('professional');
    await page.getByRole('button', { name: 'Upgrade' }).click();
    await page.waitForURL(`${d.b.stripe.url}/checkout/pay/**`);
    const sessionId = new URL(page.url()).pathname.split('/').pop() ?? '';
    const paid = await d.b.stripe.billing.completeCheckout(sessionId);
    assert.equal(paid.status, 200);
    const success = d.b.stripe.billing.checkoutSessions.get(sessionId)?.success_url ?? '';
    assert.equal(success, `${d.url}/account?checkout=done`);
    await page.goto(success);
    await waitFor(
      async () => {
        await page.reload();
        return (await page.getByTestId('tier').textContent()) === 'professional';
      },
      10000,
      'the page shows the professional tier after the webhook',
    );
    await page.screenshot({ path: join(SHOTS, 'account.png'), fullPage: true });

    // Revoke the key on the page: the sidecar refuses it.
    const keyId = (await page.locator('section[aria-labelledby="keys"] tbody code').first().textContent()) ?? '';
    await page.getByRole('button', { name: `Revoke ${keyId}` }).click();
    await page.getByText(`Key ${keyId} revoked.`).waitFor();
    await waitFor(async () => (await get(`${sidecar}/v1/hello`, { 'x-api-key': key })).status === 401, 5000, 'the revoked key refused by the sidecar');

    // Log out: the session is revoked everywhere.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${d.url}/login`);
    assert.equal(
      (await context.cookies(d.url)).find((c) => c.name === SESSION_COOKIE),
      undefined,
      'the cookie is cleared',
    );
    await waitFor(async () => (await get(`${sidecar}/v1/hello`, header)).status === 401, 5000, 'the old cookie refused by the sidecar');
    const back = await fetch(`${d.url}/account`, { redirect: 'manual', headers: header });
    assert.equal(back.status, 303);
    assert.equal(back.headers.get('location'), '/login');
    await context.close();
  });
});

/** Usage rows for every day of this month so far: (day × 7) mod 23 + 3 requests and (day × 1931) mod 9000 + 500 LLM tokens a day. */
async function seedUsage(d: DashboardEnv, userId: string): Promise<{ requests: number; maxRequests: number; tokens: number; maxTokens: number }> {
  await d.b.env.db.pool.query(
    `WITH days AS (SELECT g AS day, (date_trunc('month', now() AT TIME ZONE 'UTC') + (g - 1) * interval '1 day') AT TIME ZONE 'UTC' AS at
                   FROM generate_series(1, extract(day FROM now() AT TIME ZONE 'UTC')::int) g)
     INSERT INTO usage_events (event_id, kind, user_id, service, route, request_id, quantity, occurred_at, input_tokens, output_tokens)
     SELECT 'seed-r-' || day || '-' || n, 'request', $1, 'api', '/*', 'seed', 1, at + interval '1 minute', NULL, NULL
       FROM days, generate_series(1, (day * 7) % 23 + 3) n
     UNION ALL
     SELECT 'seed-l-' || day, 'llm', $1, 'api', '/*', 'seed', (day * 1931) % 9000 + 500, at + interval '2 minutes', (day * 1931) % 9000, 500
       FROM days`,
    [userId],
  );
  const days = Array.from({ length: new Date().getUTCDate() }, (_, i) => i + 1);
  const requests = days.map((day) => ((day * 7) % 23) + 3);
  const tokens = days.map((day) => ((day * 1931) % 9000) + 500);
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return { requests: sum(requests), maxRequests: Math.max(...requests), tokens: sum(tokens), maxTokens: Math.max(...tokens) };
}
