/**
 * Path normalisation: one step before route matching, so that the path the route
 * table judged is the path the upstream receives (and the path that is metered).
 *
 * Modelled on Envoy's `normalize_path` + `merge_slashes` +
 * `path_with_escaped_slashes_action: REJECT_REQUEST`:
 *   1. percent-encoded unreserved characters (RFC 3986 §2.3: A–Z a–z 0–9 - . _ ~)
 *      are decoded; every other escape stays encoded, its hex digits upper-cased
 *      (RFC 3986 §6.2.2.1);
 *   2. repeated slashes are merged (`server.merge_slashes`, default on);
 *   3. dot-segments are removed (RFC 3986 §5.2.4).
 * Refused (400, codes in src/errors.ts): `%2F`/`%5C` in any case, a raw `\`, a raw
 * or encoded control character (`%00`–`%1F`, `%7F`), a dot-segment that climbs
 * above the root, a malformed escape, a `;` path parameter (Tomcat/Jetty treat
 * `/pub/..;/admin` as `/admin`), `#` and bytes outside ASCII.
 *
 * The query string never takes part: uWS hands it over separately and it is
 * forwarded as sent.
 */
import { deny, type Denial } from '../errors.js';

export interface PathOptions {
  /** Merge `//` runs into one `/` (default true). */
  readonly mergeSlashes: boolean;
}

/** 1 for characters the fast path may pass without a closer look (printable ASCII minus % ; \ #). */
const PLAIN = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) PLAIN[c] = 1;
for (const c of '%;\\#') PLAIN[c.charCodeAt(0)] = 0;

const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-._~]/.test(ch)) UNRESERVED[c] = 1;
}

const HEX = '0123456789ABCDEF';

/**
 * The normalised form of `path` (uWS's `getUrl()`: the target before `?`), or the
 * denial that refuses it. A path without `%`, `;`, `\`, `#`, `//`, a segment
 * starting with `.` or a non-printable character is returned as is after one scan.
 */
export function normalisePath(path: string, opts: PathOptions): string | Denial {
  const n = path.length;
  if (n === 0 || path.charCodeAt(0) !== 47 /* / */) return deny('ARGUS_PATH_INVALID', 'the request target must start with "/"');
  let prev = 47;
  let i = 1;
  for (; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c >= 128 || PLAIN[c] === 0) break;
    if (prev === 47 && (c === 47 || c === 46) /* . */) break;
    prev = c;
  }
  if (i === n) return path;
  return slowPath(path, opts);
}

function slowPath(path: string, opts: PathOptions): string | Denial {
  // 1. Characters and escapes.
  let decoded = '';
  const n = path.length;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return deny('ARGUS_PATH_INVALID_ENCODING', 'malformed percent-encoding in the path');
      const b = hi * 16 + lo;
      if (b === 0x2f || b === 0x5c) return deny('ARGUS_PATH_ESCAPED_SLASH', 'an encoded "/" or "\\" in the path');
      if (b < 0x20 || b === 0x7f) return deny('ARGUS_PATH_CONTROL_CHAR', 'an encoded control character in the path');
      decoded += b < 128 && UNRESERVED[b] === 1 ? String.fromCharCode(b) : '%' + HEX[hi]! + HEX[lo]!;
      i += 2;
      continue;
    }
    if (c < 0x20 || c === 0x7f) return deny('ARGUS_PATH_CONTROL_CHAR', 'a control character in the path');
    if (c === 92 /* \ */) return deny('ARGUS_PATH_BACKSLASH', 'a "\\" in the path');
    if (c === 59 /* ; */) return deny('ARGUS_PATH_PARAMETER', 'a ";" path parameter');
    if (c === 35 /* # */ || c >= 128) return deny('ARGUS_PATH_INVALID', 'a character that is not allowed in a path');
    decoded += path[i];
  }
  // 2–3. Segments: merge empty ones (if configured), resolve "." and "..".
  const segments = decoded.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  // segments[0] is "" (the path starts with "/").
  for (let s = 1; s <= last; s++) {
    const seg = segments[s]!;
    if (seg === '.' || seg === '..') {
      if (seg === '..') {
        if (out.length === 0) return deny('ARGUS_PATH_ABOVE_ROOT', 'a ".." segment climbs above the root');
        out.pop();
      }
      // "/a/." and "/a/b/.." keep a trailing slash (RFC 3986 §5.2.4).
      if (s === last) out.push('');
      continue;
    }
    if (seg === '' && opts.mergeSlashes && s !== last) continue;
    if (seg === '' && opts.mergeSlashes && out.length > 0 && out[out.length - 1] === '') continue;
    out.push(seg);
  }
  return '/' + out.join('/');
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
