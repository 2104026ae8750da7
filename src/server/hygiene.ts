/**
 * Request hygiene: refuse ambiguous or oversized requests before anything else
 * runs, so request smuggling (RFC 9112 §6.3) and header bombs never reach the
 * upstream. Every refusal closes the connection: after an ambiguous framing the
 * sidecar cannot know where the next request starts.
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
}

/** Facts gathered while copying the headers out of uWS. */
export interface HeaderStats {
  /** Bytes of the request line and header lines, as on the wire (approx. +4 per line). */
  bytes: number;
  count: number;
  contentLengths: number;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
}

export function checkHygiene(stats: HeaderStats, limits: HygieneLimits): Denial | null {
  if (stats.bytes > limits.maxHeaderBytes) return deny('ARGUS_HEADERS_TOO_LARGE', `request headers exceed ${limits.maxHeaderBytes} bytes`);
  if (stats.count > limits.maxHeaders) return deny('ARGUS_TOO_MANY_HEADERS', `more than ${limits.maxHeaders} request headers`);
  if (stats.contentLengths > 1) return deny('ARGUS_AMBIGUOUS_LENGTH', 'duplicate Content-Length');
  if (stats.contentLength !== undefined && stats.transferEncoding !== undefined) return deny('ARGUS_AMBIGUOUS_LENGTH', 'Content-Length with Transfer-Encoding');
  if (stats.transferEncoding !== undefined && stats.transferEncoding.trim().toLowerCase() !== 'chunked') return deny('ARGUS_BAD_REQUEST', 'unsupported Transfer-Encoding');
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
