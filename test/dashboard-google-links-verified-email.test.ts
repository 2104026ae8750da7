/**
 * Outcome: accounts are linked by verified email only. A GitHub sign-in with a
 * verified email creates user A; a Google sign-in whose verified email is the
 * same (any case) signs in as A (two provider accounts, one user, an
 * `identity.link` audit row); a Google account claiming that email unverified
 * gets a new user B without an email; signing in again with the same provider
 * account is the same user with no new link. An ID token whose signature is
 * not the issuer's (JWKS) is refused: 502, no session, no user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signSession } from '../src/authenticate/session.js';
import { auditRows } from './support/control.js';
import { startDashboardEnv, type DashboardEnv } from './support/dashboard-env.js';

describe('Google sign-in links to a GitHub-linked user only through a verified email', () => {
  let d: DashboardEnv;
  before(async () => {
    d = await startDashboardEnv();
  });
  after(async () => {
    await d?.stop();
  });

  /** The user id a session cookie belongs to (its payload's `sub`). */
  const userOf = (cookie: string | null): string => {
    assert.ok(cookie, 'a session cookie was set');
    const value = cookie.slice(cookie.indexOf('=') + 1);
    return JSON.parse(Buffer.from(value.split('.')[0] ?? '', 'base64url').toString()).sub;
  };
  const accounts = async (userId: string) =>
    (await d.b.env.db.pool.query('SELECT provider, provider_user_id, email_verified FROM oauth_accounts WHERE user_id = $1 ORDER BY provider', [userId])).rows;

  it('verified email → the same user; unverified → a new user without the email', async () => {
    const gh = await d.signIn('github', { id: '7001', email: 'ada@example.com', email_verified: true, name: 'Ada' });
    assert.equal(gh.status, 303);
    const a = userOf(gh.cookie);
    assert.equal((await d.b.env.api('GET', `/v1/users/${a}`)).body.email, 'ada@example.com');

    const g = await d.signIn('google', { id: 'g-ada', email: 'ADA@example.com', email_verified: true, name: 'Ada L' });
    assert.equal(g.status, 303);
    assert.equal(userOf(g.cookie), a, 'the verified Google email signs in as the GitHub user');
    assert.deepEqual(await accounts(a), [
      { provider: 'github', provider_user_id: '7001', email_verified: true },
      { provider: 'google', provider_user_id: 'g-ada', email_verified: true },
    ]);
    const links = (await auditRows(d.b.env)).filter((r) => r.action === 'identity.link' && r.subject_id === a);
    assert.equal(links.length, 2);

    const u = await d.signIn('google', { id: 'g-mallory', email: 'ada@example.com', email_verified: false, name: 'Not Ada' });
    assert.equal(u.status, 303);
    const b = userOf(u.cookie);
    assert.notEqual(b, a, 'an unverified email does not link');
    const bUser = (await d.b.env.api('GET', `/v1/users/${b}`)).body;
    assert.equal(bUser.email, null, 'the unverified email is not given to the new user');
    assert.deepEqual(await accounts(b), [{ provider: 'google', provider_user_id: 'g-mallory', email_verified: false }]);

    const again = await d.signIn('google', { id: 'g-ada', email: 'ada@example.com', email_verified: true, name: 'Ada L' });
    assert.equal(userOf(again.cookie), a);
    assert.equal((await auditRows(d.b.env)).filter((r) => r.action === 'identity.link').length, 3, 'no new link on a repeat sign-in');
  });

  it('the account page of the linked user lists both sign-ins', async () => {
    const g = await d.signIn('google', { id: 'g-ada', email: 'ada@example.com', email_verified: true, name: 'Ada L' });
    const page = await fetch(`${d.url}/account`, { headers: { cookie: g.cookie ?? '' } });
    assert.equal(page.status, 200);
    const text = await page.text();
    assert.match(text, /<li>github · ada@example\.com<\/li>/);
    assert.match(text, /<li>google · ada@example\.com<\/li>/);
  });

  it('a forged session cookie (wrong secret) is not signed in', async () => {
    const forged = signSession({ sub: 'admin', sid: 's_forged', exp: Math.floor(Date.now() / 1000) + 600 }, 'not-the-secret-0123456789');
    const res = await fetch(`${d.url}/account`, { redirect: 'manual', headers: { cookie: `argus_session=${forged}` } });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/login');
  });

  it('an ID token not signed with the issuer’s key → 502, no session, no user', async () => {
    const users = async () => Number((await d.b.env.db.pool.query('SELECT count(*) AS n FROM users')).rows[0].n);
    const before = await users();
    d.google.forgeIdTokens = true;
    try {
      const r = await d.signIn('google', { id: 'g-forged', email: 'forged@example.com', email_verified: true, name: 'Forged' });
      assert.equal(r.status, 502);
      assert.equal(r.cookie, null);
    } finally {
      d.google.forgeIdTokens = false;
    }
    assert.equal(await users(), before);
  });
});
