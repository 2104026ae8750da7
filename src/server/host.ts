/**
 * The Host header (RFC 9112 §3.2, RFC 9110 §7.2): exactly one, non-empty, a valid
 * authority without userinfo; otherwise 400. With `server.allowed_hosts`, a Host
 * that is not listed is answered 421 Misdirected Request (as nginx answers a
 * request for a host it was not configured to serve). X-Forwarded-Host is derived
 * from this validated value only.
 */
import { deny, type Denial } from '../errors.js';

/** reg-name (RFC 3986 §3.2.2, without percent-encoding) or IPv4, optional :port. */
const HOST = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

export function checkHost(count: number, value: string | undefined, allowed: ReadonlySet<string> | undefined): Denial | null {
  if (count !== 1 || value === undefined) return deny('ARGUS_BAD_HOST', count === 0 ? 'missing Host header' : 'more than one Host header');
  if (value === '' || !HOST.test(value)) return deny('ARGUS_BAD_HOST', 'Host is not a valid authority');
  if (allowed && !allowed.has(value.toLowerCase()) && !allowed.has(hostName(value).toLowerCase())) return deny('ARGUS_HOST_NOT_ALLOWED', 'this host is not served here');
  return null;
}

/** The lower-cased set of `server.allowed_hosts`, or undefined (any valid Host). */
export function allowedHostSet(list: readonly string[] | undefined): ReadonlySet<string> | undefined {
  return list ? new Set(list.map((h) => h.toLowerCase())) : undefined;
}

/** The host without its port. */
function hostName(value: string): string {
  const colon = value.lastIndexOf(':');
  return colon > value.lastIndexOf(']') ? value.slice(0, colon) : value;
}
