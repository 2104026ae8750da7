/**
 * WebSocket handshake checks, before anything reaches the upstream.
 *
 * RFC 6455 §4.2.1: an opening handshake is a GET with `Upgrade: websocket`,
 * `Connection: upgrade` (a token of the list), exactly one `Sec-WebSocket-Key`
 * that is base64 of 16 bytes, and `Sec-WebSocket-Version: 13`. Anything else is
 * refused: 400 for a malformed handshake, 426 with `Sec-WebSocket-Version: 13`
 * for another version (§4.4). uWS v20.30 hands a request to the upgrade handler
 * when it is a GET with a 24-character key, whatever the other headers say, and
 * sends every other request (a POST, a missing or short key) to the plain HTTP
 * handler: both paths check here.
 *
 * A plain request (no `Upgrade: websocket`) to a WebSocket route answers 426
 * Upgrade Required (RFC 9110 §15.5.22), as the `ws` and Gorilla servers do.
 *
 * Origin (cross-site WebSocket hijacking): browsers always send `Origin` on a
 * WebSocket handshake and let any page open one. With `websocket.allowed_origins`
 * the Origin must match an entry (exact `scheme://host[:port]`, `*.` wildcards on
 * the host, or `*`); without it only same-origin browsers pass (the Origin's
 * host[:port] equals `Host`, Gorilla websocket's default). A handshake without
 * Origin is not from a browser and cannot be a hijack: it passes.
 */
import { deny, type Denial } from '../errors.js';
import type { RequestHead } from '../request/head.js';

/** The route's `websocket:` block, as far as the handshake cares. */
export interface HandshakePolicy {
  readonly allowed_origins?: readonly string[] | undefined;
}

const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const VERSION_HEADERS: ReadonlyArray<readonly [string, string]> = [['sec-websocket-version', '13']];
const UPGRADE_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['upgrade', 'websocket'],
  ['sec-websocket-version', '13'],
];

/** Every value of one header (names are lower-case in the head). */
function values(head: RequestHead, name: string): string[] {
  const out: string[] = [];
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) out.push(h[i + 1]!);
  return out;
}

/** Does any comma-separated token of these header values equal `token` (case-insensitive)? */
function hasToken(list: readonly string[], token: string): boolean {
  for (const v of list) for (const t of v.split(',')) if (t.trim().toLowerCase() === token) return true;
  return false;
}

/** The request asks for a WebSocket (`Upgrade: websocket`, any case). */
export function asksForWebSocket(head: RequestHead): boolean {
  return hasToken(values(head, 'upgrade'), 'websocket');
}

/** RFC 6455 §4.2.1 on an upgrade request; null when it is a valid opening handshake. */
export function checkHandshake(head: RequestHead): Denial | null {
  if (head.method !== 'GET') return deny('ARGUS_WS_BAD_HANDSHAKE', 'a WebSocket handshake must be a GET');
  if (!asksForWebSocket(head)) return deny('ARGUS_WS_BAD_HANDSHAKE', 'a WebSocket handshake needs "Upgrade: websocket"');
  if (!hasToken(values(head, 'connection'), 'upgrade')) return deny('ARGUS_WS_BAD_HANDSHAKE', 'a WebSocket handshake needs "Connection: upgrade"');
  const keys = values(head, 'sec-websocket-key');
  // 16 bytes in base64 are 22 characters and "==", the last one carrying 2 bits (A, Q, g or w).
  if (keys.length !== 1 || !KEY.test(keys[0]!.trim())) return deny('ARGUS_WS_INVALID_KEY', 'Sec-WebSocket-Key must be the base64 of 16 bytes');
  const versions = values(head, 'sec-websocket-version');
  if (versions.length !== 1 || versions[0]!.trim() !== '13')
    return deny('ARGUS_WS_UNSUPPORTED_VERSION', 'only Sec-WebSocket-Version 13 is supported', VERSION_HEADERS);
  // Subprotocols are tokens (RFC 6455 §4.1, RFC 9110 §5.6.2); anything else could not be offered upstream.
  for (const v of values(head, 'sec-websocket-protocol'))
    for (const p of v.split(','))
      if (p.trim() !== '' && !TOKEN.test(p.trim())) return deny('ARGUS_WS_BAD_HANDSHAKE', 'Sec-WebSocket-Protocol must be a list of tokens');
  return null;
}

/** A plain request to a WebSocket route: a broken handshake (400) or no handshake at all (426). */
export function refusePlainRequest(head: RequestHead): Denial {
  if (asksForWebSocket(head)) return checkHandshake(head) ?? deny('ARGUS_WS_BAD_HANDSHAKE', 'malformed WebSocket handshake');
  return deny('ARGUS_WS_UPGRADE_REQUIRED', 'this route only serves WebSocket upgrades', UPGRADE_HEADERS);
}

const compiled = new WeakMap<readonly string[], (origin: string) => boolean>();

/** Compile `allowed_origins` entries into one predicate on a lower-cased Origin. */
function originMatcher(list: readonly string[]): (origin: string) => boolean {
  let fn = compiled.get(list);
  if (fn) return fn;
  if (list.includes('*')) fn = () => true;
  else {
    const exact = new Set<string>();
    const patterns: RegExp[] = [];
    for (const entry of list) {
      const e = entry.toLowerCase();
      if (!e.includes('*')) exact.add(e);
      // `https://*.example.com` matches one or more labels in place of the `*`, never the bare domain.
      else patterns.push(new RegExp(`^${e.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace('*', '[a-z0-9-]+(?:\\.[a-z0-9-]+)*')}$`));
    }
    fn = (o) => exact.has(o) || patterns.some((p) => p.test(o));
  }
  compiled.set(list, fn);
  return fn;
}

/** The Origin's host[:port], lower-cased, or undefined when it is not a URL origin. */
function originAuthority(origin: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]+)$/i.exec(origin);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** 403 when a browser's Origin is not allowed on this route (see the module comment). */
export function checkOrigin(head: RequestHead, policy: HandshakePolicy): Denial | null {
  const origins = values(head, 'origin');
  if (origins.length === 0) return null;
  if (origins.length > 1) return deny('ARGUS_WS_BAD_HANDSHAKE', 'more than one Origin header');
  const origin = origins[0]!.trim().toLowerCase();
  const list = policy.allowed_origins;
  if (list) return originMatcher(list)(origin) ? null : deny('ARGUS_WS_ORIGIN_FORBIDDEN', 'this Origin may not open a WebSocket here');
  const hosts = values(head, 'host');
  const authority = originAuthority(origin);
  if (authority !== undefined && hosts.length === 1 && authority === hosts[0]!.trim().toLowerCase()) return null;
  return deny('ARGUS_WS_ORIGIN_FORBIDDEN', 'a cross-origin WebSocket needs the route to list its Origin in websocket.allowed_origins');
}

export { ORIGIN_ENTRY } from '../request/route-schema.js';
