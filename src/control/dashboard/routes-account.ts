/**
 * `/account` and its forms, all as the signed-in user (index.ts has checked
 * the session and, for POST, the CSRF token): create and revoke API keys,
 * Upgrade (a Stripe Checkout Session through the billing service, then a 303
 * to Stripe), Manage billing (a portal session, 303).
 */
import type { Hono } from 'hono';
import { tierRanks } from '../../billing/effective-tier.js';
import { checkout, portal } from '../billing/service.js';
import { createKey, revokeKey } from '../services/keys.js';
import { type Dash, type DashContext, type DashEnv, publicUrl } from './context.js';
import { loadAccount } from './account-data.js';
import { page, problem } from './layout.js';
import { accountBody, type AccountExtras } from './view-account.js';
import type { Denial } from '../../errors.js';
import { statusOf } from '../../errors.js';

const NOTICES: Record<string, string> = {
  done: 'Thank you. Your plan changes as soon as Stripe confirms the payment.',
  cancelled: 'Checkout cancelled: nothing changed.',
};

export function accountRoutes(app: Hono<DashEnv>, dash: Dash): void {
  const rank = tierRanks(dash.deps.cfg.tiers);
  const plans = Object.entries(dash.deps.cfg.billing.plans).map(([name, p]) => ({ name, rank: rank.get(p.tier) ?? -1 }));
  const billing = dash.deps.billing?.stripe != null;

  const render = async (c: DashContext, extras: Partial<AccountExtras>) => {
    const s = c.get('session');
    const data = await loadAccount(dash.deps, s.actor, s.actor.id);
    if (data === null) return c.html(problem('No account', 'This account no longer exists.'), 404);
    const viewer = { name: data.user.name ?? data.user.user_id, admin: s.actor.admin, csrf: c.get('csrf') };
    return c.html(page('Account', accountBody(data, viewer.csrf, { plans, rank, billing, ...extras }), viewer));
  };

  app.get('/account', (c) => {
    const notice = NOTICES[c.req.query('checkout') ?? ''];
    return render(c, notice === undefined ? {} : { notice });
  });

  app.post('/account/keys', async (c) => {
    const actor = c.get('session').actor;
    const r = await createKey(dash.deps, actor, actor.id, { scopes: [] });
    if (!r.ok) return refused(c, r.denial);
    return render(c, r.value.key === undefined ? {} : { newKey: r.value.key, notice: `Key ${r.value.api_key.key_id} created.` });
  });

  app.post('/account/keys/:id/revoke', async (c) => {
    const actor = c.get('session').actor;
    const r = await revokeKey(dash.deps, actor, c.req.param('id'), actor.id);
    if (!r.ok) return refused(c, r.denial);
    return render(c, { notice: `Key ${r.value.key_id} revoked.` });
  });

  app.post('/account/checkout', async (c) => {
    const form = await c.req.parseBody();
    const plan = typeof form['plan'] === 'string' ? form['plan'] : '';
    const r = await checkout(dash.deps, c.get('session').actor, {
      plan,
      success_url: publicUrl(dash, '/account?checkout=done'),
      cancel_url: publicUrl(dash, '/account?checkout=cancelled'),
    });
    return r.ok ? c.redirect(r.value.url, 303) : refused(c, r.denial);
  });

  app.post('/account/portal', async (c) => {
    const r = await portal(dash.deps, c.get('session').actor, { return_url: publicUrl(dash, '/account') });
    return r.ok ? c.redirect(r.value.url, 303) : refused(c, r.denial);
  });
}

/** A service's denial as a page with its status (400, 403, 404, 501, ...). */
export function refused(c: DashContext, d: Denial): Response | Promise<Response> {
  const status = statusOf(d.code) as 400;
  return c.html(problem('Not done', d.message), status);
}
