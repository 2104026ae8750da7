/**
 * Client request headers an app behind the sidecar might take as a statement of
 * identity, client address or original URL. Only the sidecar may make such
 * statements, so these never reach the upstream (`server.strip_request_headers`,
 * extended per route by `routes[].strip_request_headers`); `x-argus-*` is removed
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
] as const;

/** The lower-cased set a route strips: the server's list plus the route's own. */
export function stripSet(server: readonly string[], route: readonly string[]): ReadonlySet<string> {
  return new Set([...server, ...route].map((h) => h.toLowerCase()));
}
