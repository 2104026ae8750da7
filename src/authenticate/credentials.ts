/**
 * Find the one credential in a request head, or say why the request is ambiguous.
 *
 * Accepted: `Authorization: Bearer <jwt | ak_…>`, the API-key header, the session
 * header. Ambiguity is an error, never a choice: two Authorization headers, a
 * repeated credential header, two different credentials, or a credential in the
 * query string of an HTTP route all answer 401 with their own code. Browsers
 * cannot set headers on a WebSocket handshake, so WebSocket routes also accept a
 * bearer credential as a `Sec-WebSocket-Protocol` entry `bearer.<token>` (the
 * sidecar removes it before the protocol list reaches the upstream), and
 * `access_token` in the query only where the route sets `websocket.query_token`.
 *
 * With `auth.session.cookie` set, a session may also come in that cookie (the
 * dashboard's sign-in sets it, docs/dashboard.md). A cookie is ambient: the
 * browser sends it with every request, so it counts only when the request
 * carries no other credential; an explicit header always wins over it.
 */
import type { Denial } from '../errors.js';
import type { RequestHead } from '../request/head.js';
import type { AuthConfig } from './schema.js';
import { DENIED } from './denials.js';

export type CredentialKind = 'jwt' | 'api_key' | 'session';

export interface Credential {
  readonly kind: CredentialKind;
  readonly value: string;
}

/** Visible prefix of every API key (`ak_live_…`, `ak_test_…`). */
export const API_KEY_PREFIX = 'ak_';

/** Query parameter names that carry credentials in other APIs; refused on HTTP routes. */
const QUERY_NAMES = new Set(['access_token', 'id_token', 'api_key', 'apikey', 'api-key', 'x-api-key', 'jwt', 'auth', 'authorization', 'bearer', 'session']);
/** Values that look like a JWT or one of our keys, whatever the parameter is called. */
const JWT_LIKE = /^eyJ[\w-]*\.[\w-]*\./;

export type Extracted = Credential | null | Denial;

export function createExtractor(auth: AuthConfig) {
  const keyHeader = auth.api_keys.header.toLowerCase();
  const sessionHeader = (auth.session?.header ?? 'x-cognito-session').toLowerCase();
  const sessionsOn = auth.session !== undefined;
  const cookieName = auth.session?.cookie;
  const maxBytes = auth.cache.max_credential_bytes;
  const queryNames = new Set([...QUERY_NAMES, keyHeader, sessionHeader]);
  // Cheap pre-filter so ordinary query strings are not split and decoded on every request;
  // anything percent-encoded gets the full scan (an encoded name must not slip through).
  const quick = new RegExp(`(?:^|&)(?:${[...queryNames].map(escapeRegex).join('|')})(?:=|&|$)|ak_(?:live|test)_|eyJ|%`, 'i');

  /** Returns the credential, null when there is none, or a 401 denial. */
  function extract(head: RequestHead, websocket: { readonly query_token: boolean } | undefined): Extracted {
    const h = head.headers;
    let authz: string | undefined;
    let key: string | undefined;
    let session: string | undefined;
    let cookies: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i];
      if (websocket && name === 'sec-websocket-protocol') {
        const token = protocolCredential(h[i + 1] ?? '');
        if (token === undefined) continue;
        if (authz !== undefined) return DENIED.twoCredentials;
        authz = `Bearer ${token}`;
      } else if (name === 'authorization') {
        if (authz !== undefined) return DENIED.twoAuthorization;
        authz = h[i + 1] ?? '';
      } else if (name === keyHeader) {
        if (key !== undefined) return DENIED.twoSameHeader;
        key = (h[i + 1] ?? '').trim();
      } else if (name === sessionHeader && sessionsOn) {
        if (session !== undefined) return DENIED.twoSameHeader;
        session = (h[i + 1] ?? '').trim();
      } else if (name === 'cookie' && cookieName !== undefined) {
        // HTTP/2 may split the Cookie header (RFC 9113 §8.2.3): join them back.
        cookies = cookies === undefined ? (h[i + 1] ?? '') : `${cookies}; ${h[i + 1] ?? ''}`;
      }
    }
    let found: Credential | null = null;
    if (authz !== undefined) {
      const parsed = parseAuthorization(authz);
      if (!('kind' in parsed)) return parsed;
      found = parsed;
    }
    if (key !== undefined) {
      const c: Credential = { kind: 'api_key', value: key };
      if (found && !(found.kind === 'api_key' && found.value === key)) return DENIED.twoCredentials;
      found = c;
    }
    if (session !== undefined) {
      if (found) return DENIED.twoCredentials;
      found = { kind: 'session', value: session };
    }
    if (head.query.length > 0 && quick.test(head.query)) {
      const fromQuery = scanQuery(head.query);
      if (fromQuery !== null) {
        if (!websocket?.query_token || fromQuery.name !== 'access_token') return DENIED.inQuery;
        const c = classify(fromQuery.value);
        if (found && !(found.kind === c.kind && found.value === c.value)) return DENIED.twoCredentials;
        found = c;
      }
    }
    if (found === null && cookies !== undefined && cookieName !== undefined) {
      const value = cookieValue(cookies, cookieName);
      if (value === DUPLICATE) return DENIED.twoSameHeader;
      if (value !== undefined) found = { kind: 'session', value };
    }
    if (found === null) return null;
    if (found.value.length === 0)
      return found.kind === 'session' ? DENIED.invalidSession : found.kind === 'api_key' ? DENIED.invalidKey : DENIED.malformedToken;
    if (found.value.length > maxBytes) return DENIED.tooLarge;
    return found;
  }

  function parseAuthorization(value: string): Credential | Denial {
    // The usual shape, "Bearer <token>" with nothing around it, without trimming or
    // re-slicing a 600-character value; anything else takes the general path below.
    const n = value.length;
    if (n > 7 && value.charCodeAt(6) === 32 && value.charCodeAt(7) > 32 && value.charCodeAt(n - 1) > 32 && isBearerScheme(value)) {
      const token = value.slice(7);
      return hasInnerSpace(token) ? DENIED.malformedToken : classify(token);
    }
    const v = value.trim();
    const sp = v.indexOf(' ');
    const scheme = sp < 0 ? v : v.slice(0, sp);
    // RFC 9110 §11.1: the scheme is case-insensitive.
    if (scheme.length !== 6 || scheme.toLowerCase() !== 'bearer') return DENIED.scheme;
    const token = sp < 0 ? '' : v.slice(sp + 1).trim();
    if (token.length === 0 || hasInnerSpace(token)) return DENIED.malformedToken;
    return classify(token);
  }

  /** The first credential-carrying parameter, or null. */
  function scanQuery(query: string): { name: string; value: string } | null {
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      const rawName = eq < 0 ? part : part.slice(0, eq);
      const rawValue = eq < 0 ? '' : part.slice(eq + 1);
      const name = safeDecode(rawName).toLowerCase();
      const val = safeDecode(rawValue);
      if (queryNames.has(name) || val.startsWith(API_KEY_PREFIX + 'live_') || val.startsWith(API_KEY_PREFIX + 'test_') || JWT_LIKE.test(val)) {
        return { name, value: val };
      }
    }
    return null;
  }

  return extract;
}

/** Marker of a credential carried as a WebSocket subprotocol entry. */
export const PROTOCOL_BEARER = 'bearer.';

/** The token of a `bearer.<token>` entry in a Sec-WebSocket-Protocol list, if any. */
export function protocolCredential(list: string): string | undefined {
  if (!list.toLowerCase().includes(PROTOCOL_BEARER)) return undefined;
  for (const entry of list.split(',')) {
    const p = entry.trim();
    if (isProtocolCredential(p)) return p.slice(PROTOCOL_BEARER.length);
  }
  return undefined;
}

/** `bearer.<token>` in any case (`Bearer.`, `BEARER.`): a credential, never passed to the upstream. */
export function isProtocolCredential(entry: string): boolean {
  return entry.length >= PROTOCOL_BEARER.length && entry.slice(0, PROTOCOL_BEARER.length).toLowerCase() === PROTOCOL_BEARER;
}

/**
 * Space or tab inside a token: "Bearer a b" is malformed. Any other odd character
 * (control, non-ASCII) cannot be in a cached credential (L1 matches it whole), so
 * it fails verification, a 401 too. Two indexOf scans of a 600-character JWT cost
 * ~100 instructions; /\s/ (every character against the Unicode spaces) ~6,000.
 */
function hasInnerSpace(token: string): boolean {
  return token.indexOf(' ') >= 0 || token.indexOf('\t') >= 0;
}

/** The first six characters are "Bearer" in any case (RFC 9110 §11.1). */
function isBearerScheme(v: string): boolean {
  return (
    (v.charCodeAt(0) | 0x20) === 0x62 &&
    (v.charCodeAt(1) | 0x20) === 0x65 &&
    (v.charCodeAt(2) | 0x20) === 0x61 &&
    (v.charCodeAt(3) | 0x20) === 0x72 &&
    (v.charCodeAt(4) | 0x20) === 0x65 &&
    (v.charCodeAt(5) | 0x20) === 0x72
  );
}

const DUPLICATE = Symbol('duplicate cookie');

/**
 * The value of cookie `name` in a Cookie header (RFC 6265 §5.4: `name=value`
 * pairs joined by "; "), undefined when absent, DUPLICATE when it appears twice
 * (a cookie planted for a parent domain or path must not be picked silently).
 */
export function cookieValue(header: string, name: string): string | undefined | typeof DUPLICATE {
  let found: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) return DUPLICATE;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    found = v;
  }
  return found;
}

function classify(token: string): Credential {
  return token.startsWith(API_KEY_PREFIX) ? { kind: 'api_key', value: token } : { kind: 'jwt', value: token };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
