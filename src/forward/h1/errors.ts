/**
 * Errors of the upstream HTTP/1.1 client, each with a stable `code` (the relay
 * maps codes to 502/504 and to the `argus_upstream_errors_total` kind). Socket
 * errors from node:net keep their own codes (ECONNREFUSED, ECONNRESET, EPIPE…).
 */
export type H1ErrorCode =
  /** No response head within headers_timeout_ms of sending the request (or of connecting). */
  | 'H1_HEADERS_TIMEOUT'
  /** No response body bytes for body_timeout_ms while the client was reading. */
  | 'H1_BODY_TIMEOUT'
  /** The upstream closed the connection before the response was complete. */
  | 'H1_CLOSED'
  /** The upstream's bytes are not a valid HTTP/1.1 response (strict parsing). */
  | 'H1_BAD_RESPONSE'
  /** The request cannot be written as sent (a header value with CR/LF/NUL, a body of the wrong length). */
  | 'H1_BAD_REQUEST'
  /** The pool is closed: no new requests. */
  | 'H1_POOL_CLOSED';

export class H1Error extends Error {
  constructor(
    readonly code: H1ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'H1Error';
  }
}
