/**
 * A control process with the dashboard on (test/support/billing-env.ts plus
 * `control.dashboard`), the Google and GitHub stand-ins
 * (test/support/oauth-providers.ts) as its providers, and the session cookie
 * `argus_session`. `public_url` is `http://localhost:<port>` (Chromium treats
 * localhost as a secure context, so the Secure cookie is kept over http).
 *
 * {@link DashboardEnv.signIn} runs a whole sign-in without a browser: the
 * redirect, the stand-in's "Allow", the callback with the flow cookie.
 */
import { startBillingEnv, type BillingEnv } from './billing-env.js';
import { SESSION_SECRET } from './control.js';
import { freePort } from './meter-env.js';
import { startOAuthStandIn, type OAuthStandIn, type StandInAccount } from './oauth-providers.js';

export const SESSION_COOKIE = 'argus_session';

export interface DashboardEnv {
  readonly b: BillingEnv;
  readonly google: OAuthStandIn;
  readonly github: OAuthStandIn;
  /** `http://localhost:<public port>` */
  readonly url: string;
  /** Sign in through a provider without a browser: the session cookie (`name=value`) and the callback's reply. */
  signIn(provider: 'google' | 'github', account?: StandInAccount): Promise<{ cookie: string | null; status: number; location: string | null; body: string }>;
  stop(): Promise<void>;
}

export async function startDashboardEnv(opts: { upstream?: string; extra?: Record<string, unknown> } = {}): Promise<DashboardEnv> {
  const google = await startOAuthStandIn('google', { id: '100000000000000000001', email: 'g@example.com', email_verified: true, name: 'G User' });
  const github = await startOAuthStandIn('github', { id: '5001', email: 'gh@example.com', email_verified: true, name: 'GH User' });
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const b = await startBillingEnv({
    ...(opts.upstream !== undefined && { upstream: opts.upstream }),
    extra: {
      auth: { session: { secret: SESSION_SECRET, cookie: SESSION_COOKIE } },
      control: {
        internal: { host: '127.0.0.1', port: 0 },
        public: { host: '127.0.0.1', port },
        admin: { host: '127.0.0.1', port: 0 },
        reconcile_interval_ms: 200,
        sweep_interval_ms: 500,
        drain_timeout_ms: 2000,
        dashboard: {
          public_url: url,
          google: { issuer: google.url, client_id: google.clientId, client_secret: google.clientSecret },
          github: {
            authorize_url: `${github.url}/login/oauth/authorize`,
            token_url: `${github.url}/login/oauth/access_token`,
            user_url: `${github.url}/user`,
            emails_url: `${github.url}/user/emails`,
            client_id: github.clientId,
            client_secret: github.clientSecret,
          },
        },
      },
      ...opts.extra,
    },
  });
  let stopping: Promise<void> | null = null;
  const env: DashboardEnv = {
    b,
    google,
    github,
    url,
    async signIn(provider, account) {
      const standIn = provider === 'google' ? google : github;
      if (account !== undefined) standIn.account = account;
      const start = await fetch(`${url}/auth/${provider}`, { redirect: 'manual' });
      const flow = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const callback = await standIn.consent(start.headers.get('location') ?? '');
      const res = await fetch(callback, { redirect: 'manual', headers: { cookie: flow } });
      const session = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
      return { cookie: session?.split(';')[0] ?? null, status: res.status, location: res.headers.get('location'), body: await res.text() };
    },
    stop() {
      stopping ??= (async () => {
        await b.stop();
        await google.close();
        await github.close();
      })();
      return stopping;
    },
  };
  return env;
}
