/**
 * The Host header (RFC 9112 §3.2, RFC 9110 §7.2): exactly one, non-empty, a valid
 * authority without userinfo; otherwise 400. With `server.allowed_hosts`, a Host
 * that is not listed is answered 421 Misdirected Request (as nginx answers a
 * request for a host it was not configured to serve). X-Forwarded-Host is derived
 * from this validated value only.
 */
import { deny, type Denial } from '../errors.js';

/** reg-name characters (RFC 3986 §3.2.2, without percent-encoding): unreserved and sub-delims. */
const REG_NAME = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=") REG_NAME[c.charCodeAt(0)] = 1;
/** An IP literal, optional :port. */
const IP_LITERAL = /^\[[0-9A-Fa-f:.]+\](?::([0-9]{1,5}))?$/;

/** A port is 1–65535 (RFC 6335 §6; nginx and Envoy refuse 0 and out-of-range ports in Host). */
function validPort(digits: string): boolean {
  const n = Number(digits);
  return n >= 1 && n <= 65535;
}

/** reg-name or IPv4, optional :port (one scan), or an IP literal. */
function validAuthority(v: string): boolean {
  if (v.charCodeAt(0) === 91 /* [ */) {
    const m = IP_LITERAL.exec(v);
    return m !== null && (m[1] === undefined || validPort(m[1]));
  }
  let i = 0;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 58 /* : */) break;
    if (c >= 128 || REG_NAME[c] !== 1) return false;
  }
  if (i === 0) return false;
  if (i === v.length) return true;
  const port = v.length - i - 1;
  if (port < 1 || port > 5) return false;
  for (let j = i + 1; j < v.length; j++) {
    const c = v.charCodeAt(j);
    if (c < 48 || c > 57) return false;
  }
  return validPort(v.slice(i + 1));
}

export function checkHost(count: number, value: string | undefined, allowed: ReadonlySet<string> | undefined): Denial | null {
  if (count !== 1 || value === undefined) return deny('ARGUS_BAD_HOST', count === 0 ? 'missing Host header' : 'more than one Host header');
  if (value === '' || !validAuthority(value)) return deny('ARGUS_BAD_HOST', 'Host is not a valid authority');
  if (allowed && !allowed.has(value.toLowerCase()) && !allowed.has(hostName(value).toLowerCase()))
    return deny('ARGUS_HOST_NOT_ALLOWED', 'this host is not served here');
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
