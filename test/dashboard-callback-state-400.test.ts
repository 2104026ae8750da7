/**
 * Outcome: a sign-in callback whose `state` is not the one this browser was
 * sent off with is refused 400 before any code exchange, and sets no session:
 * a changed state, a callback without the flow cookie, a flow cookie whose
 * signature is broken. The unchanged callback signs in (303 to /account, the
 * session cookie HttpOnly, Secure, SameSite=Lax), so the 400s are the state's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SESSION_COOKIE, startDashboardEnv, type DashboardEnv } from './support/dashboard-env.js';

describe('the sign-in callback checks state', () => {
  let d: DashboardEnv;
  before(async () => {
    d = await startDashboardEnv();
  });
  after(async () => {
    await d?.stop();
  });

  /** Start a GitHub sign-in and consent: the flow cookie and the callback URL the stand-in redirects to. */
  async function started(): Promise<{ flow: string; callback: URL }> {
    const start = await fetch(`${d.url}/auth/github`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const location = new URL(start.headers.get('location') ?? '');
    assert.equal(location.origin, d.github.url);
    assert.ok(location.searchParams.get('state'), 'the authorize URL carries a state');
    assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
    const flow = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    return { flow, callback: new URL(await d.github.consent(location.href)) };
  }

  const call = (url: URL, cookie: string) => fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });

  it('a changed state → 400, no session; the same callback with its own state → 303 /account', async () => {
    const { flow, callback } = await started();
    const wrong = new URL(callback);
    wrong.searchParams.set('state', `${callback.searchParams.get('state')}x`);
    const refused = await call(wrong, flow);
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /did not start here/);
    assert.equal(refused.headers.getSetCookie().filter((c) => c.startsWith(`${SESSION_COOKIE}=`)).length, 0);
    assert.equal(d.github.tokenRequests.length, 0, 'no code exchange for a wrong state');

    const res = await call(callback, flow);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/account');
    const session = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
    assert.match(session, /; HttpOnly/);
    assert.match(session, /; Secure/);
    assert.match(session, /; SameSite=Lax/);
    assert.ok(d.github.tokenRequests.at(-1)?.['code_verifier'], 'the code exchange sent the PKCE verifier');
  });

  it('no flow cookie → 400; a flow cookie with a broken signature → 400', async () => {
    const { flow, callback } = await started();
    assert.equal((await call(callback, '')).status, 400);
    const forged = flow.slice(0, -2) + (flow.endsWith('AA') ? 'BB' : 'AA');
    assert.equal((await call(callback, forged)).status, 400);
    assert.equal(d.github.tokenRequests.length, 1, 'only the first test exchanged a code');
  });
});
