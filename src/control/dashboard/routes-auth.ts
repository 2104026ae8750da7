/**
 * Sign-in and sign-out:
 * - `GET /login`: a button per configured provider;
 * - `GET /auth/{provider}`: start the flow (state, nonce, PKCE verifier in a
 *   signed 10-minute cookie scoped to `/auth/`), redirect to the provider;
 * - `GET /auth/{provider}/callback`: the state must equal the cookie's
 *   (constant time; else 400), the library exchanges the code and checks the
 *   rest; then the user is found, linked or created and the session cookie set;
 * - `POST /logout`: revoke the session (CSRF-checked in index.ts), clear the cookie.
 */
import type { Hono } from 'hono';
import { html } from 'hono/html';
import { type Dash, type DashEnv, publicUrl } from './context.js';
import { signIn } from './identities.js';
import { page, problem } from './layout.js';
import type { Flow, ProviderName } from './providers.js';
import { openJson, readCookie, sameText, sealJson, setCookie } from './security.js';
import { closeSession, openSession } from './session.js';

const FLOW_COOKIE = 'argus_signin';
const FLOW_TTL_S = 600;
const LABELS: Record<ProviderName, string> = { google: 'Continue with Google', github: 'Continue with GitHub' };

export function authRoutes(app: Hono<DashEnv>, dash: Dash): void {
  const enabled = new Set<string>(dash.providers.enabled);

  app.get('/login', (c) => {
    const buttons = dash.providers.enabled.map((p) => html`<a class="btn provider ${p}" href="/auth/${p}">${LABELS[p]}</a>`);
    const body = html`<section aria-label="Sign-in providers">
<p>Use your Google or GitHub account. Accounts with the same verified email are the same Argus account.</p>
<div class="providers">${buttons}</div></section>`;
    return c.html(page('Sign in', body));
  });

  app.get('/auth/:provider', async (c) => {
    const provider = c.req.param('provider');
    if (!enabled.has(provider)) return c.html(problem('Unknown provider', 'This sign-in provider is not configured.'), 404);
    let started: Awaited<ReturnType<typeof dash.providers.begin>>;
    try {
      started = await dash.providers.begin(provider as ProviderName, callbackUrl(dash, provider));
    } catch (err) {
      // Google's discovery document unreachable or invalid: nothing to redirect to.
      dash.deps.log.warn('dashboard: sign-in start failed', { provider, err: (err as Error).message });
      return c.html(problem('Sign-in unavailable', 'The provider cannot be reached. Please try again later.'), 502);
    }
    const { url, flow } = started;
    const sealed = sealJson(dash.flowKey, { ...flow, exp: Math.floor(dash.deps.now() / 1000) + FLOW_TTL_S });
    c.header('Set-Cookie', setCookie(FLOW_COOKIE, sealed, { path: '/auth/', maxAgeS: FLOW_TTL_S }));
    return c.redirect(url, 302);
  });

  app.get('/auth/:provider/callback', async (c) => {
    const provider = c.req.param('provider');
    if (!enabled.has(provider)) return c.html(problem('Unknown provider', 'This sign-in provider is not configured.'), 404);
    const flow = flowOf(dash, readCookie(c.req.header('cookie'), FLOW_COOKIE), provider);
    const state = c.req.query('state');
    // RFC 6749 §10.12: a callback that is not the answer to our own redirect is refused before anything else.
    if (flow === null || state === undefined || !sameText(flow.state, state))
      return c.html(problem('Sign-in failed', 'The sign-in request expired or did not start here. Please try again.'), 400);
    c.header('Set-Cookie', setCookie(FLOW_COOKIE, '', { path: '/auth/', maxAgeS: 0 }));
    if (c.req.query('error') !== undefined) return c.html(problem('Sign-in cancelled', 'The provider did not sign you in.'), 400);
    const query = new URL(c.req.url).search;
    let profile: Awaited<ReturnType<typeof dash.providers.finish>>;
    try {
      profile = await dash.providers.finish(flow, new URL(`${callbackUrl(dash, provider)}${query}`));
    } catch (err) {
      dash.deps.log.warn('dashboard: sign-in exchange failed', { provider, err: (err as Error).message });
      return c.html(problem('Sign-in failed', 'The provider did not confirm the sign-in. Please try again.'), 502);
    }
    const who = await signIn(dash.deps, profile, dash.cfg.signup_tier);
    if (!who.ok) return c.html(problem('Sign-in refused', who.denial.message), 403);
    const cookie = await openSession(dash.deps, who.value.user_id);
    if (!cookie.ok) return c.html(problem('Sign-in failed', cookie.denial.message), 503);
    dash.deps.log.info('dashboard: signed in', { provider, user_id: who.value.user_id, outcome: who.value.outcome });
    c.header('Set-Cookie', cookie.value, { append: true });
    return c.redirect('/account', 303);
  });

  app.post('/logout', async (c) => {
    const closed = await closeSession(dash.deps, c.get('session').sessionId);
    if (!closed.ok) return c.html(problem('Sign-out failed', closed.denial.message), 503);
    c.header('Set-Cookie', closed.value);
    return c.redirect('/login', 303);
  });
}

function callbackUrl(dash: Dash, provider: string): string {
  return publicUrl(dash, `/auth/${provider}/callback`);
}

function flowOf(dash: Dash, sealed: string | undefined, provider: string): Flow | null {
  const v = openJson(dash.flowKey, sealed);
  if (v === null || v['provider'] !== provider || typeof v['state'] !== 'string' || typeof v['verifier'] !== 'string') return null;
  if (typeof v['exp'] !== 'number' || v['exp'] < dash.deps.now() / 1000) return null;
  return { provider, state: v['state'], verifier: v['verifier'], ...(typeof v['nonce'] === 'string' && { nonce: v['nonce'] }) } as Flow;
}
