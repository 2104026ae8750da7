/**
 * Local stand-ins for Google (OpenID Connect) and GitHub (OAuth 2) over real
 * HTTP on port 0, answering what the dashboard's `openid-client` sends:
 * - Google: discovery (`/.well-known/openid-configuration`), JWKS, `/authorize`
 *   (a consent page with an "Allow" button), `/token` (checks client secret,
 *   redirect URI and the PKCE verifier; returns an RS256 ID token signed with
 *   jose carrying the request's nonce), `/userinfo`;
 * - GitHub: `/login/oauth/authorize` (consent page), `/login/oauth/access_token`
 *   (JSON when asked, lower-case `bearer` as GitHub sends), `/user`, `/user/emails`.
 *
 * The person who consents is {@link OAuthStandIn.account}: set it before a sign-in.
 * {@link OAuthStandIn.consent} plays the "Allow" click without a browser.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface StandInAccount {
  id: string;
  email: string;
  email_verified: boolean;
  name: string;
}

export interface OAuthStandIn {
  readonly kind: 'google' | 'github';
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Who signs in next. */
  account: StandInAccount;
  /** Google: sign ID tokens with a key that is not in the JWKS (same kid): a forged token. */
  forgeIdTokens: boolean;
  /** Token requests seen (for assertions: PKCE verifier present). */
  readonly tokenRequests: Array<Record<string, string>>;
  /** The consent form's POST, as the "Allow" button sends it: the provider's redirect (Location) back to the app. */
  consent(authorizeUrl: string): Promise<string>;
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  nonce: string | null;
  account: StandInAccount;
}

export async function startOAuthStandIn(kind: 'google' | 'github', account: StandInAccount): Promise<OAuthStandIn> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const forger = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'standin-1', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, StandInAccount>();
  const tokenRequests: Array<Record<string, string>> = [];
  const clientId = `${kind}-client-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(16).toString('hex');
  let url = '';
  const paths = kind === 'google' ? { authorize: '/authorize', token: '/token' } : { authorize: '/login/oauth/authorize', token: '/login/oauth/access_token' };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { error: 'server_error', error_description: err.message }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const body = new URLSearchParams(await readBody(req));
    if (req.method === 'GET' && kind === 'google' && u.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer: url,
        authorization_endpoint: `${url}/authorize`,
        token_endpoint: `${url}/token`,
        userinfo_endpoint: `${url}/userinfo`,
        jwks_uri: `${url}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      });
    }
    if (req.method === 'GET' && kind === 'google' && u.pathname === '/jwks') return send(res, 200, { keys: [jwk] });
    if (req.method === 'GET' && u.pathname === paths.authorize) return consentPage(res, u.searchParams);
    if (req.method === 'POST' && u.pathname === `${paths.authorize}/allow`) return allow(res, body);
    if (req.method === 'POST' && u.pathname === paths.token) return token(req, res, body);
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (req.method === 'GET' && ['/userinfo', '/user', '/user/emails'].includes(u.pathname)) {
      if (who === undefined) return send(res, 401, { message: 'Bad credentials' });
      if (u.pathname === '/userinfo') return send(res, 200, { sub: who.id, email: who.email, email_verified: who.email_verified, name: who.name });
      if (u.pathname === '/user')
        return send(res, 200, { id: Number(who.id), login: who.name.toLowerCase().replace(/\W+/g, '-'), name: who.name, email: null });
      return send(res, 200, [
        { email: who.email, primary: true, verified: who.email_verified, visibility: 'private' },
        { email: `${who.id}+noreply@users.noreply.github.com`, primary: false, verified: true, visibility: null },
      ]);
    }
    send(res, 404, { error: 'not_found' });
  }

  function consentPage(res: ServerResponse, q: URLSearchParams): void {
    if (q.get('client_id') !== clientId || q.get('response_type') !== 'code' || !q.get('redirect_uri')) return send(res, 400, { error: 'invalid_request' });
    const hidden = [...q].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
    const html = `<!doctype html><html lang="en"><title>${kind} stand-in</title><main><h1>${kind === 'google' ? 'Google' : 'GitHub'} (stand-in)</h1>
<p>Sign in to Argus as ${esc(standIn.account.email)}?</p><form method="post" action="${paths.authorize}/allow">${hidden}<button type="submit">Allow</button></form></main></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  }

  function allow(res: ServerResponse, q: URLSearchParams): void {
    const redirect = new URL(q.get('redirect_uri') ?? '');
    const code = randomBytes(16).toString('base64url');
    codes.set(code, {
      clientId: q.get('client_id') ?? '',
      redirectUri: redirect.href,
      challenge: q.get('code_challenge'),
      nonce: q.get('nonce'),
      account: { ...standIn.account },
    });
    redirect.searchParams.set('code', code);
    if (q.get('state') !== null) redirect.searchParams.set('state', q.get('state') ?? '');
    res.writeHead(302, { location: redirect.href }).end();
  }

  async function token(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    tokenRequests.push(Object.fromEntries(q));
    const basic = (req.headers.authorization ?? '').match(/^Basic (.+)$/i);
    const [id, secret] = basic
      ? Buffer.from(basic[1] ?? '', 'base64')
          .toString()
          .split(':')
          .map(decodeURIComponent)
      : [q.get('client_id'), q.get('client_secret')];
    if (id !== clientId || secret !== clientSecret) return send(res, 401, { error: 'invalid_client' });
    const grant = codes.get(q.get('code') ?? '');
    codes.delete(q.get('code') ?? '');
    if (grant === undefined || grant.redirectUri !== q.get('redirect_uri') || grant.clientId !== id) return send(res, 400, { error: 'invalid_grant' });
    const verifier = q.get('code_verifier');
    if (grant.challenge !== null && (verifier === null || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge))
      return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    const access = randomBytes(20).toString('hex');
    tokens.set(access, grant.account);
    if (kind === 'github') return send(res, 200, { access_token: access, token_type: 'bearer', scope: 'read:user,user:email' });
    const a = grant.account;
    const idToken = await new SignJWT({ email: a.email, email_verified: a.email_verified, name: a.name, ...(grant.nonce && { nonce: grant.nonce }) })
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
      .setIssuer(url)
      .setAudience(clientId)
      .setSubject(a.id)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(standIn.forgeIdTokens ? forger : privateKey);
    send(res, 200, { access_token: access, token_type: 'Bearer', expires_in: 3599, scope: 'openid email profile', id_token: idToken });
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const standIn: OAuthStandIn = {
    kind,
    url,
    clientId,
    clientSecret,
    account,
    forgeIdTokens: false,
    tokenRequests,
    async consent(authorizeUrl) {
      const q = new URL(authorizeUrl).searchParams;
      const res = await fetch(`${url}${paths.authorize}/allow`, { method: 'POST', body: q, redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || location === null) throw new Error(`stand-in consent answered ${res.status}`);
      return location;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return standIn;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (s += d));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
