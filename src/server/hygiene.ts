/**
 * Request hygiene: refuse ambiguous or oversized requests before anything else
 * runs, so request smuggling (RFC 9112 §6.3) and header bombs never reach the
 * upstream. Every refusal closes the connection: after an ambiguous framing the
 * sidecar cannot know where the next request starts.
 *
 * A closing refusal is final: nothing after it on the connection is served
 * (src/server/closing.ts).
 *
 * uWS v20.30 itself silently drops (closes) a request that carries both
 * Content-Length and Transfer-Encoding or a non-numeric Content-Length, and holds
 * requests with more than ~47 header lines unanswered; the checks below also
 * cover those cases should the parser ever let them through.
 */
import { deny, type Denial } from '../errors.js';

export interface HygieneLimits {
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly maxBodyBytes: number;
  /** Accept `Transfer-Encoding: chunked` request bodies (server.chunked_request_bodies). */
  readonly chunkedBodies: boolean;
}

/** Facts gathered while copying the headers out of uWS. */
export interface HeaderStats {
  /** Bytes of the request line and header lines, as on the wire (approx. +4 per line). */
  bytes: number;
  count: number;
  contentLengths: number;
  contentLength: string | undefined;
  transferEncodings: number;
  transferEncoding: string | undefined;
  hosts: number;
  host: string | undefined;
}

export function checkHygiene(stats: HeaderStats, limits: HygieneLimits): Denial | null {
  if (stats.bytes > limits.maxHeaderBytes) return deny('ARGUS_HEADERS_TOO_LARGE', `request headers exceed ${limits.maxHeaderBytes} bytes`);
  if (stats.count > limits.maxHeaders) return deny('ARGUS_TOO_MANY_HEADERS', `more than ${limits.maxHeaders} request headers`);
  if (stats.contentLengths > 1) return deny('ARGUS_AMBIGUOUS_LENGTH', 'duplicate Content-Length');
  if (stats.contentLength !== undefined && stats.transferEncoding !== undefined) return deny('ARGUS_AMBIGUOUS_LENGTH', 'Content-Length with Transfer-Encoding');
  if (stats.transferEncodings > 1) return deny('ARGUS_BAD_REQUEST', 'more than one Transfer-Encoding header');
  if (stats.transferEncoding !== undefined) {
    // Only exactly "chunked" (RFC 9112 §6.1): "xchunked", "identity", "gzip, chunked", "chunked, gzip" are refused.
    if (stats.transferEncoding.toLowerCase() !== 'chunked') return deny('ARGUS_BAD_REQUEST', 'unsupported Transfer-Encoding');
    // uWS's chunk parser cannot be checked from here (it reads " 5" as 0 and skips the bytes after a chunk unchecked).
    if (!limits.chunkedBodies) return deny('ARGUS_LENGTH_REQUIRED', 'chunked request bodies are not accepted: send Content-Length');
  }
  if (stats.contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(stats.contentLength)) return deny('ARGUS_BAD_CONTENT_LENGTH', 'Content-Length is not a number');
    if (Number(stats.contentLength) > limits.maxBodyBytes) return deny('ARGUS_PAYLOAD_TOO_LARGE', `request body exceeds ${limits.maxBodyBytes} bytes`);
  }
  return null;
}

/** Whether a request carries a body to read. */
export function hasBody(stats: HeaderStats): boolean {
  return stats.transferEncoding !== undefined || (stats.contentLength !== undefined && stats.contentLength !== '0');
}
