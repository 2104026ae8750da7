/**
 * Outcome: every POST of the dashboard needs the session's form token. Signed
 * in, a POST without the token → 403, with a wrong one → 403, with another
 * session's token → 403, and nothing is created; with the token from the page
 * → 200 and a new key. Every page carries the strict CSP and refuses framing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDashboardEnv, type DashboardEnv } from './support/dashboard-env.js';

describe('CSRF: POST needs the form token', () => {
  let d: DashboardEnv;
  before(async () => {
    d = await startDashboardEnv();
  });
  after(async () => {
    await d?.stop();
  });

  const tokenOf = (html: string): string => {
    const m = html.match(/name="csrf" value="([^"]+)"/);
    assert.ok(m?.[1], 'the page has a form token');
    return m[1];
  };
  const post = (path: string, cookie: string, form: Record<string, string>) =>
    fetch(`${d.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
  const keyCount = async () => Number((await d.b.env.db.pool.query('SELECT count(*) AS n FROM api_keys')).rows[0].n);

  it('no token → 403, wrong token → 403, another session’s token → 403; the page’s token → 200', async () => {
    const me = await d.signIn('github', { id: '8001', email: 'csrf@example.com', email_verified: true, name: 'Csrf' });
    const other = await d.signIn('github', { id: '8002', email: 'other@example.com', email_verified: true, name: 'Other' });
    assert.ok(me.cookie && other.cookie);
    const page = await fetch(`${d.url}/account`, { headers: { cookie: me.cookie } });
    const token = tokenOf(await page.text());
    const otherToken = tokenOf(await (await fetch(`${d.url}/account`, { headers: { cookie: other.cookie } })).text());
    const before = await keyCount();

    assert.equal((await post('/account/keys', me.cookie, {})).status, 403);
    assert.equal((await post('/account/keys', me.cookie, { csrf: `${token.slice(0, -1)}x` })).status, 403);
    assert.equal((await post('/account/keys', me.cookie, { csrf: otherToken })).status, 403);
    assert.equal((await post('/logout', me.cookie, { csrf: 'nope' })).status, 403);
    assert.equal((await post('/account/keys', '', { csrf: token })).status, 403, 'no session: no POST');
    assert.equal(await keyCount(), before, 'no refused POST created anything');

    const ok = await post('/account/keys', me.cookie, { csrf: token });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /data-testid="new-key">ak_/);
    assert.equal(await keyCount(), before + 1);
  });

  it('pages set a strict CSP and refuse framing', async () => {
    for (const path of ['/login', '/account', '/dashboard.css']) {
      const res = await fetch(`${d.url}${path}`, { redirect: 'manual' });
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /style-src 'self'(;|$)/, path);
      assert.doesNotMatch(csp, /unsafe-inline|script-src/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
    }
    const login = await (await fetch(`${d.url}/login`)).text();
    assert.doesNotMatch(login, /<script|style=/i, 'no inline script or style');
  });
});
