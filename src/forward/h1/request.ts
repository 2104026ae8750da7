/**
 * The request head as bytes on the wire (RFC 9112 §3): request line, headers,
 * framing. The proxy's own framing wins: a Buffer body always gets its true
 * Content-Length; a stream keeps the client's Content-Length (the byte count is
 * checked when it ends) or goes out chunked; an empty POST/PUT/PATCH says
 * `content-length: 0`. Names must be tokens and values free of control
 * characters, so nothing a header carries can start a second request.
 */
import { hasControl, isToken } from './chars.js';
import { H1Error } from './errors.js';

export const enum Framing {
  /** No body bytes follow the head. */
  None,
  /** Exactly `length` bytes follow. */
  Length,
  /** Chunked transfer coding. */
  Chunked,
}

export interface HeadOut {
  head: string;
  framing: Framing;
  /** Body bytes expected (Framing.Length). */
  length: number;
}

const BAD_TARGET = /[\x00-\x20\x7f]/;
const EXPECTS_BODY = new Set(['POST', 'PUT', 'PATCH']);
/**
 * Scratch list reused by every call (single-threaded, never held across calls).
 * Entries are overwritten, not dropped: `parts.length = 0` frees the backing
 * store, so every head grew a new one (~400 B of garbage per request, sampled).
 */
const PARTS: string[] = [];
/** Entries of PARTS the head being built uses. */
let used = 0;

function put(a: string): void {
  PARTS[used++] = a;
}

/** The head so far as one string; PARTS starts over (a much longer old tail is dropped, the rest blanked). */
function joinParts(): string {
  if (PARTS.length > 4 * used + 64) PARTS.length = used;
  for (let i = used; i < PARTS.length; i++) PARTS[i] = '';
  used = 0;
  return PARTS.join('');
}

/**
 * Build the head. `bodyLength`: the Buffer body's length, -1 for a stream, -2 for
 * no body. `out` is reused by the caller (one object per connection).
 * `trustedLines` (header lines the caller rendered and checked) go out as they are,
 * and so do `checked` headers (flat [name, value, …], validated by the caller).
 */
export function requestHead(
  method: string,
  target: string,
  headers: readonly string[],
  hostHeader: string,
  bodyLength: number,
  out: HeadOut,
  trustedLines = '',
  checked?: readonly string[],
): void {
  if (!isToken(method)) throw new H1Error('H1_BAD_REQUEST', 'invalid request method');
  if (BAD_TARGET.test(target) || target.length === 0) throw new H1Error('H1_BAD_REQUEST', 'invalid request target');
  // Parts joined once: no chain of intermediate strings per header.
  used = 0;
  put(method);
  put(' ');
  put(target);
  put(' HTTP/1.1\r\n');
  let host = false;
  let clientLength = -1;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (!isToken(name)) throw new H1Error('H1_BAD_REQUEST', 'invalid request header name');
    if (hasControl(value)) throw new H1Error('H1_BAD_REQUEST', `control character in request header ${name}`);
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      // The proxy frames the body itself; a stream keeps the client's length.
      if (bodyLength === -1 && /^\d{1,15}$/.test(value)) clientLength = Number(value);
      continue;
    }
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') continue;
    if (name.length === 4 && name.toLowerCase() === 'host') host = true;
    put(name);
    put(': ');
    put(value);
    put('\r\n');
  }
  if (!host) {
    put('host: ');
    put(hostHeader);
    put('\r\n');
  }
  if (trustedLines) put(trustedLines);
  if (checked !== undefined)
    for (let i = 0; i < checked.length; i += 2) {
      put(checked[i]!);
      put(': ');
      put(checked[i + 1]!);
      put('\r\n');
    }
  if (bodyLength >= 0) {
    out.framing = Framing.Length;
    out.length = bodyLength;
    put('content-length: ');
    put(String(bodyLength));
    put('\r\n\r\n');
  } else if (bodyLength === -1) {
    if (clientLength >= 0) {
      out.framing = Framing.Length;
      out.length = clientLength;
      put('content-length: ');
      put(String(clientLength));
      put('\r\n\r\n');
    } else {
      out.framing = Framing.Chunked;
      out.length = 0;
      put('transfer-encoding: chunked\r\n\r\n');
    }
  } else {
    out.framing = Framing.None;
    out.length = 0;
    put(EXPECTS_BODY.has(method) ? 'content-length: 0\r\n\r\n' : '\r\n');
  }
  out.head = joinParts();
}
