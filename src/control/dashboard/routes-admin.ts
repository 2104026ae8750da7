/**
 * `/admin` (platform admins: role `control.admin_role` or scope `argus:admin`):
 * find a user by email or id, see their tier, usage and keys, change the tier,
 * revoke a key or every credential of the user. Each action is the REST API's
 * service call with the admin as actor (one authorization check, one audit row).
 */
import type { Hono } from 'hono';
import { html } from 'hono/html';
import { revokeKey } from '../services/keys.js';
import { revoke } from '../services/revocations.js';
import { getUser, listUsers, updateUser } from '../services/users.js';
import type { UserView } from '../services/views.js';
import { loadAccount } from './account-data.js';
import { barChart } from './chart.js';
import type { Dash, DashContext, DashEnv } from './context.js';
import { csrfField, type Markup, page, postButton, problem, when } from './layout.js';
import { refused } from './routes-account.js';

export function adminRoutes(app: Hono<DashEnv>, dash: Dash): void {
  const tiers = Object.keys(dash.deps.cfg.tiers);
  const frame = (c: DashContext, title: string, body: Markup, status: 200 | 404 = 200) =>
    c.html(page(title, body, { name: c.get('session').actor.id, admin: true, csrf: c.get('csrf') }), status);

  app.use('/admin', adminOnly);
  app.use('/admin/*', adminOnly);

  app.get('/admin', async (c) => {
    const q = (c.req.query('q') ?? '').trim();
    let found: UserView[] = [];
    if (q.includes('@')) {
      const r = await listUsers(dash.deps, c.get('session').actor, { email: q, limit: 20 });
      found = r.ok ? r.value.items : [];
    } else if (q.length > 0) {
      const r = await getUser(dash.deps, c.get('session').actor, q);
      found = r.ok ? [r.value] : [];
    }
    const results =
      q.length === 0
        ? ''
        : found.length === 0
          ? html`<p role="status">No user matches “${q}”.</p>`
          : html`<ul>${found.map((u) => html`<li><a href="/admin/users/${encodeURIComponent(u.user_id)}">${u.user_id}</a> ${u.email ?? ''} · ${u.tier ?? 'default tier'}</li>`)}</ul>`;
    const body = html`<section aria-labelledby="find"><h2 id="find">Find a user</h2>
<form method="get" action="/admin" class="row"><div><label for="q">Email or user id</label><input id="q" name="q" value="${q}" autocomplete="off"></div><button type="submit">Find</button></form>
${results}</section>`;
    return frame(c, 'Admin', body);
  });

  app.get('/admin/users/:id', async (c) => {
    const actor = c.get('session').actor;
    const csrf = c.get('csrf');
    const a = await loadAccount(dash.deps, actor, c.req.param('id'));
    if (a === null) return frame(c, 'Admin', html`<p role="alert">No such user.</p>`, 404);
    const base = `/admin/users/${encodeURIComponent(a.user.user_id)}`;
    const keys = a.keys.map(
      (k) => html`<tr><td><code>${k.key_id}</code></td><td>${k.status}</td><td>${when(k.created_at)}</td>
<td>${k.status === 'active' ? postButton(`${base}/keys/${encodeURIComponent(k.key_id)}/revoke`, 'Revoke', csrf, 'danger', `Revoke ${k.key_id}`) : ''}</td></tr>`,
    );
    const body = html`<section aria-labelledby="who"><h2 id="who">${a.user.email ?? a.user.user_id}</h2>
<p>User <code>${a.user.user_id}</code> · tier <span class="tier">${a.tier}</span>${a.plan ? html` · plan ${a.plan}` : ''} · ${a.user.status}</p>
<form method="post" action="${base}/tier" class="row">${csrfField(csrf)}
<div><label for="tier">Tier</label><select id="tier" name="tier">${tiers.map((t) => html`<option value="${t}" ${t === a.tier ? 'selected' : ''}>${t}</option>`)}</select></div>
<button type="submit">Set tier</button></form>
<p>${postButton(`${base}/revoke`, 'Revoke every credential', csrf, 'danger')}</p></section>
<section aria-labelledby="u"><h2 id="u">Usage this month</h2>${barChart(a.requests, 'chart-requests', a.month, a.monthDays)}${barChart(a.tokens, 'chart-tokens', a.month, a.monthDays)}</section>
<section aria-labelledby="k"><h2 id="k">API keys</h2>${a.keys.length > 0 ? html`<table><tbody>${keys}</tbody></table>` : html`<p class="muted">No keys.</p>`}</section>`;
    return frame(c, 'Admin', body);
  });

  app.post('/admin/users/:id/tier', async (c) => {
    const form = await c.req.parseBody();
    const tier = typeof form['tier'] === 'string' ? form['tier'] : '';
    const r = await updateUser(dash.deps, c.get('session').actor, c.req.param('id'), { tier });
    return r.ok ? c.redirect(`/admin/users/${encodeURIComponent(r.value.user_id)}`, 303) : refused(c, r.denial);
  });

  app.post('/admin/users/:id/revoke', async (c) => {
    const r = await revoke(dash.deps, c.get('session').actor, { kind: 'user', id: c.req.param('id') });
    return r.ok ? c.redirect(`/admin/users/${encodeURIComponent(r.value.id)}`, 303) : refused(c, r.denial);
  });

  app.post('/admin/users/:id/keys/:key/revoke', async (c) => {
    const r = await revokeKey(dash.deps, c.get('session').actor, c.req.param('key'), c.req.param('id'));
    return r.ok ? c.redirect(`/admin/users/${encodeURIComponent(c.req.param('id'))}`, 303) : refused(c, r.denial);
  });
}

async function adminOnly(c: DashContext, next: () => Promise<void>): Promise<Response | undefined> {
  if (!c.get('session').actor.admin) return c.html(problem('Not allowed', 'This page is for administrators.'), 403);
  await next();
  return undefined;
}
