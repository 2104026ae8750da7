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
/** Scratch list reused by every call (single-threaded, never held across calls). */
const PARTS: string[] = [];

/**
 * Build the head. `bodyLength`: the Buffer body's length, -1 for a stream, -2 for
 * no body. `out` is reused by the caller (one object per connection).
 * `trustedLines` (header lines the caller rendered and checked) go out as they are.
 */
export function requestHead(method: string, target: string, headers: readonly string[], hostHeader: string, bodyLength: number, out: HeadOut, trustedLines = ''): void {
  if (!isToken(method)) throw new H1Error('H1_BAD_REQUEST', 'invalid request method');
  if (BAD_TARGET.test(target) || target.length === 0) throw new H1Error('H1_BAD_REQUEST', 'invalid request target');
  // Parts joined once: no chain of intermediate strings per header.
  const parts = PARTS;
  parts.length = 0;
  parts.push(method, ' ', target, ' HTTP/1.1\r\n');
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
    parts.push(name, ': ', value, '\r\n');
  }
  if (!host) parts.push('host: ', hostHeader, '\r\n');
  if (trustedLines) parts.push(trustedLines);
  if (bodyLength >= 0) {
    out.framing = Framing.Length;
    out.length = bodyLength;
    parts.push('content-length: ', String(bodyLength), '\r\n\r\n');
  } else if (bodyLength === -1) {
    if (clientLength >= 0) {
      out.framing = Framing.Length;
      out.length = clientLength;
      parts.push('content-length: ', String(clientLength), '\r\n\r\n');
    } else {
      out.framing = Framing.Chunked;
      out.length = 0;
      parts.push('transfer-encoding: chunked\r\n\r\n');
    }
  } else {
    out.framing = Framing.None;
    out.length = 0;
    parts.push(EXPECTS_BODY.has(method) ? 'content-length: 0\r\n\r\n' : '\r\n');
  }
  out.head = parts.join('');
  parts.length = 0;
}
