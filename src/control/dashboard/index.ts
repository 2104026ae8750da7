/**
 * The dashboard on the control process's public listener (docs/dashboard.md):
 * `/login`, `/auth/*`, `/account`, `/admin`, `/logout`, `/dashboard.css`.
 * Loaded by src/control/main.ts only when `control.dashboard` is configured,
 * so a control process without it never loads the OAuth client.
 *
 * Order per request: security headers (every page) → the session from the
 * cookie (account, admin, logout: GET without one goes to /login, POST is 403)
 * → for POST, the CSRF form token (403 when missing or wrong) → the page.
 */
import { Hono } from 'hono';
import type { ApiDeps } from '../api/app.js';
import type { Authenticator } from '../../authenticate/index.js';
import type { DashboardConfig } from '../../dashboard-schema.js';
import type { Dash, DashContext, DashEnv } from './context.js';
import { problem } from './layout.js';
import { createProviders } from './providers.js';
import { accountRoutes } from './routes-account.js';
import { adminRoutes } from './routes-admin.js';
import { authRoutes } from './routes-auth.js';
import { csrfToken, csrfValid, deriveKey, securityHeaders } from './security.js';
import { currentSession } from './session.js';
import { STYLESHEET } from './style.js';

const PAGES = ['/', '/login', '/auth/*', '/logout', '/account', '/account/*', '/admin', '/admin/*', '/dashboard.css'];
const SIGNED_IN = ['/logout', '/account', '/account/*', '/admin', '/admin/*'];
/** Where Stripe's hosted checkout and portal live: forms may redirect there. */
const STRIPE_PAGES = ['https://checkout.stripe.com', 'https://billing.stripe.com'];

export function mountDashboard(app: Hono, deps: ApiDeps & { authn: Authenticator }, cfg: DashboardConfig): void {
  const secret = deps.cfg.auth.session?.secret;
  if (secret === undefined) throw new Error('control.dashboard needs auth.session (checked at boot)');
  const dash: Dash = { deps, cfg, providers: createProviders(cfg), csrfKey: deriveKey(secret, 'csrf'), flowKey: deriveKey(secret, 'signin-flow') };
  const stripeBase = deps.cfg.stripe?.base_url;
  const formTargets = [...STRIPE_PAGES, ...(stripeBase ? [new URL(stripeBase).origin] : [])];
  const d = new Hono<DashEnv>();
  const headers = securityHeaders(formTargets);
  for (const p of PAGES) d.use(p, headers);
  for (const p of SIGNED_IN) d.use(p, (c, next) => signedIn(dash, c, next));

  d.get('/dashboard.css', (c) => c.body(STYLESHEET, 200, { 'content-type': 'text/css; charset=utf-8' }));
  d.get('/', (c) => c.redirect('/account', 302));
  authRoutes(d, dash);
  accountRoutes(d, dash);
  adminRoutes(d, dash);
  d.onError((err, c) => {
    deps.log.error('dashboard: request failed', { err });
    return c.html(problem('Something went wrong', 'The request failed. Please try again.'), 500);
  });
  app.route('/', d);
}

async function signedIn(dash: Dash, c: DashContext, next: () => Promise<void>): Promise<Response | undefined> {
  const session = await currentSession(dash.deps, c.req.header('cookie'));
  const post = c.req.method === 'POST';
  if (session === null) return post ? c.html(problem('Not allowed', 'Your session has ended. Please sign in again.'), 403) : c.redirect('/login', 303);
  const csrf = csrfToken(dash.csrfKey, session.sessionId);
  if (post) {
    const form = await c.req.parseBody();
    if (!csrfValid(dash.csrfKey, session.sessionId, form['csrf']))
      return c.html(problem('Not allowed', 'The form expired. Please go back and try again.'), 403);
  }
  c.set('session', session);
  c.set('csrf', csrf);
  await next();
  return undefined;
}
