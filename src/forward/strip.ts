/**
 * Client request headers an app behind the sidecar might take as a statement of
 * identity, client address or original URL. Only the sidecar may make such
 * statements, so these never reach the upstream (extended by `server.strip_request_headers`
 * and per route by `routes[].strip_request_headers`; `server.forward_request_headers`
 * lets named ones through); `x-argus-*` is removed
 * separately, whatever the list says (src/forward/headers.ts).
 */
export const DEFAULT_STRIP_REQUEST_HEADERS = [
  'x-user-id',
  'x-forwarded-user',
  'x-auth-user',
  'x-auth-request-user',
  'x-remote-user',
  'remote-user',
  'x-cognito-session-verified',
  'x-real-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-forwarded-port',
  'x-forwarded-uri',
  'x-forwarded-prefix',
  'forwarded',
  // The same class, as other gateways name it: oauth2-proxy, ALB, IAP, Azure Easy Auth,
  // Cloudflare Access, Authelia, Grafana auth proxy; client-address headers of CDNs.
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-preferred-username',
  'x-auth-request-access-token',
  'x-amzn-oidc-data',
  'x-amzn-oidc-identity',
  'x-amzn-oidc-accesstoken',
  'x-goog-authenticated-user-email',
  'x-goog-authenticated-user-id',
  'x-goog-iap-jwt-assertion',
  'x-ms-client-principal',
  'x-ms-client-principal-id',
  'x-ms-client-principal-name',
  'x-ms-client-principal-idp',
  'cf-access-authenticated-user-email',
  'cf-access-jwt-assertion',
  'remote-email',
  'remote-groups',
  'remote-name',
  'x-remote-group',
  'x-remote-email',
  'x-webauth-user',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-cluster-client-ip',
  'client-ip',
  'x-original-host',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  // Method overrides (Express method-override, Rails, Laravel): the route table judged the request method.
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-method',
] as const;

/** What `server.strip_request_headers` and `server.forward_request_headers` say. */
export interface StripConfig {
  readonly strip_request_headers: readonly string[];
  readonly forward_request_headers: readonly string[];
}

/**
 * The lower-cased set a route strips: the built-in list, plus the server's and the
 * route's additions, minus what the server explicitly forwards. A configured list
 * adds to the built-in one, so naming one header never forwards the others.
 */
export function stripSet(server: StripConfig, route: readonly string[]): ReadonlySet<string> {
  const set = new Set([...DEFAULT_STRIP_REQUEST_HEADERS, ...server.strip_request_headers].map((h) => h.toLowerCase()));
  for (const h of server.forward_request_headers) set.delete(h.toLowerCase());
  for (const h of route) set.add(h.toLowerCase());
  return set;
}
