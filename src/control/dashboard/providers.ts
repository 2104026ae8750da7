/**
 * Google (OpenID Connect) and GitHub (OAuth 2) sign-in through `openid-client`
 * (panva): the library builds the authorization URL, checks the callback's
 * state, exchanges the code with the PKCE verifier, validates Google's ID token
 * (signature against the JWKS, issuer, audience, nonce, expiry) and calls the userinfo and GitHub APIs.
 * This file only says which endpoints and which profile fields.
 *
 * {@link begin} returns the URL to send the browser to and the secrets the
 * callback needs (kept in a signed cookie by routes-auth.ts); {@link finish}
 * turns the callback URL into a {@link Profile}, or throws when the provider
 * refused or answered something invalid.
 */
import * as oidc from 'openid-client';
import type { DashboardConfig } from '../../dashboard-schema.js';

export type ProviderName = 'google' | 'github';

/** What a provider says about the person signing in. */
export interface Profile {
  readonly provider: ProviderName;
  /** The provider's stable user id (`sub`, GitHub's numeric id). */
  readonly id: string;
  readonly email: string | null;
  /** True only when the provider says it verified the address. */
  readonly emailVerified: boolean;
  readonly name: string | null;
}

/** Between the redirect and the callback. */
export interface Flow {
  readonly provider: ProviderName;
  readonly state: string;
  readonly verifier: string;
  readonly nonce?: string;
}

export interface Providers {
  readonly enabled: readonly ProviderName[];
  begin(provider: ProviderName, redirectUri: string): Promise<{ url: string; flow: Flow }>;
  finish(flow: Flow, callbackUrl: URL): Promise<Profile>;
}

const insecure = (url: string) => (new URL(url).protocol === 'http:' ? [oidc.allowInsecureRequests] : []);

export function createProviders(cfg: DashboardConfig): Providers {
  const { google, github } = cfg;
  let googleConfig: Promise<oidc.Configuration> | null = null;
  // One discovery in flight; a failure is forgotten so the next sign-in retries.
  const googleClient = () => {
    if (google === undefined) throw new Error('google sign-in is not configured');
    googleConfig ??= oidc
      .discovery(new URL(google.issuer), google.client_id, google.client_secret, undefined, {
        // Also verify the ID token's signature against the issuer's JWKS (TLS alone would satisfy OIDC Core §3.1.3.7).
        execute: [oidc.enableNonRepudiationChecks, ...insecure(google.issuer)],
      })
      .catch((err) => {
        googleConfig = null;
        throw err;
      });
    return googleConfig;
  };
  let githubConfig: oidc.Configuration | null = null;
  const githubClient = () => {
    if (github === undefined) throw new Error('github sign-in is not configured');
    if (githubConfig === null) {
      const server = { issuer: new URL(github.authorize_url).origin, authorization_endpoint: github.authorize_url, token_endpoint: github.token_url };
      githubConfig = new oidc.Configuration(server, github.client_id, github.client_secret);
      for (const run of insecure(github.token_url)) run(githubConfig);
    }
    return githubConfig;
  };

  async function begin(provider: ProviderName, redirectUri: string) {
    const state = oidc.randomState();
    const verifier = oidc.randomPKCECodeVerifier();
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (provider === 'google') {
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(await googleClient(), { ...params, scope: 'openid email profile', nonce });
      return { url: url.href, flow: { provider, state, verifier, nonce } };
    }
    const url = oidc.buildAuthorizationUrl(githubClient(), { ...params, scope: 'read:user user:email' });
    return { url: url.href, flow: { provider, state, verifier } };
  }

  async function finish(flow: Flow, callbackUrl: URL): Promise<Profile> {
    if (flow.provider === 'google') {
      const config = await googleClient();
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        ...(flow.nonce !== undefined && { expectedNonce: flow.nonce }),
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (claims === undefined) throw new Error('google: no ID token');
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      const email = str(info.email) ?? str(claims['email']);
      const verified = (info.email_verified ?? claims['email_verified']) === true;
      return { provider: 'google', id: claims.sub, email, emailVerified: email !== null && verified, name: str(info.name) ?? str(claims['name']) };
    }
    const config = githubClient();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    const user = (await githubGet(config, tokens.access_token, github?.user_url ?? '')) as Record<string, unknown>;
    const emails = (await githubGet(config, tokens.access_token, github?.emails_url ?? '')) as Array<{
      email?: unknown;
      primary?: unknown;
      verified?: unknown;
    }>;
    const id = user['id'];
    if ((typeof id !== 'number' && typeof id !== 'string') || !Array.isArray(emails)) throw new Error('github: unexpected user or emails response');
    // The primary address if GitHub verified it, else any verified one; an unverified primary never links.
    const verified = emails.filter((e) => e.verified === true && typeof e.email === 'string');
    const pick = verified.find((e) => e.primary === true) ?? verified[0] ?? emails.find((e) => e.primary === true);
    const email = str(pick?.email) ?? str(user['email']);
    return { provider: 'github', id: String(id), email, emailVerified: pick?.verified === true, name: str(user['name']) ?? str(user['login']) };
  }

  const enabled = [...(google ? (['google'] as const) : []), ...(github ? (['github'] as const) : [])];
  return { enabled, begin, finish };
}

async function githubGet(config: oidc.Configuration, token: string, url: string): Promise<unknown> {
  const headers = new Headers({ accept: 'application/vnd.github+json', 'user-agent': 'argus-dashboard' });
  const res = await oidc.fetchProtectedResource(config, token, new URL(url), 'GET', undefined, headers);
  if (!res.ok) throw new Error(`github: ${new URL(url).pathname} answered ${res.status}`);
  return res.json();
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
