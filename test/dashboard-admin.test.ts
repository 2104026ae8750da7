/**
 * Outcome: `/admin` is for administrators only. A user who is not one gets
 * 403 on every admin page and form. An admin (role admin, signed in with
 * GitHub through their verified email) finds the user by email, sees their
 * tier and keys, sets the tier (the REST API reports it) and revokes every
 * credential of the user: the user's session cookie is refused afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDashboardEnv, type DashboardEnv } from './support/dashboard-env.js';

describe('the admin page', () => {
  let d: DashboardEnv;
  before(async () => {
    d = await startDashboardEnv();
  });
  after(async () => {
    await d?.stop();
  });

  const page = (path: string, cookie: string) => fetch(`${d.url}${path}`, { redirect: 'manual', headers: { cookie } });
  const post = (path: string, cookie: string, form: Record<string, string>) =>
    fetch(`${d.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
  const csrfOf = async (cookie: string) => (await (await page('/account', cookie)).text()).match(/name="csrf" value="([^"]+)"/)?.[1] ?? '';

  it('a non-admin gets 403; an admin finds a user, sets the tier and revokes', async () => {
    assert.equal((await d.b.env.api('POST', '/v1/users', { body: { user_id: 'boss', email: 'boss@example.com', role: 'admin' } })).status, 201);
    const user = await d.signIn('github', { id: '6001', email: 'target@example.com', email_verified: true, name: 'Target' });
    const boss = await d.signIn('github', { id: '6002', email: 'boss@example.com', email_verified: true, name: 'Boss' });
    assert.ok(user.cookie && boss.cookie);
    const userId = (await d.b.env.api('GET', '/v1/users?email=target@example.com')).body.items[0].user_id as string;

    const userCsrf = await csrfOf(user.cookie);
    assert.equal((await page('/admin', user.cookie)).status, 403);
    assert.equal((await page(`/admin/users/${userId}`, user.cookie)).status, 403);
    assert.equal((await post(`/admin/users/${userId}/tier`, user.cookie, { csrf: userCsrf, tier: 'enterprise' })).status, 403);
    assert.equal((await d.b.env.api('GET', `/v1/users/${userId}`)).body.tier, null, 'the refused form changed nothing');

    const found = await (await page('/admin?q=target%40example.com', boss.cookie)).text();
    assert.match(found, new RegExp(`href="/admin/users/${userId}"`));
    const detail = await page(`/admin/users/${userId}`, boss.cookie);
    assert.equal(detail.status, 200);
    assert.match(await detail.text(), /tier <span class="tier">explorer<\/span>/);

    const csrf = await csrfOf(boss.cookie);
    const set = await post(`/admin/users/${userId}/tier`, boss.cookie, { csrf, tier: 'business' });
    assert.equal(set.status, 303);
    assert.equal((await d.b.env.api('GET', `/v1/users/${userId}`)).body.tier, 'business');
    assert.match(await (await page(`/admin/users/${userId}`, boss.cookie)).text(), /tier <span class="tier">business<\/span>/);

    assert.equal((await page('/account', user.cookie)).status, 200);
    assert.equal((await post(`/admin/users/${userId}/revoke`, boss.cookie, { csrf })).status, 303);
    const after = await page('/account', user.cookie);
    assert.equal(after.status, 303, 'the revoked user is signed out');
    assert.equal(after.headers.get('location'), '/login');
    assert.equal((await page('/account', boss.cookie)).status, 200, 'the admin is still signed in');
  });
});
