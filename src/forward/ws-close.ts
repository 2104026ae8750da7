/**
 * What each leg is told when the other one ends: close codes that say what
 * happened (RFC 6455 §7.4.1), never a "normal" 1000 for an error.
 *
 * uWS v20.30 reports a client that broke the protocol as code 1006 with one of
 * its fixed messages, after it has already closed the TCP connection without a
 * close frame (measured with raw sockets, test/websocket-close-codes.test.ts):
 *
 *   "Received invalid UTF-8"                 text message not UTF-8     → upstream 1007
 *   "Received too big message"               over uWS's maxPayloadLength → upstream 1009
 *   "WebSocket timed out from inactivity"    idle timeout (backstop)    → upstream 1001
 *   ""                                       reserved bits, unknown opcode, fragmented
 *                                            or oversized control frame, a continuation
 *                                            without a start, an interrupted fragment
 *                                            sequence, a close frame with an invalid code
 *                                            (999, 1004, 1015, 5000) or a non-UTF-8 reason
 *                                            (uWS answers those with an empty close frame),
 *                                            and also a client that dropped the TCP
 *                                            connection without a close frame
 *
 * The last row cannot be told apart from JavaScript: the upstream gets 1001
 * ("going away") with a reason saying that no close frame came, which is true
 * for every case in it and is not a logout (1000).
 */
import { CLOSE, sendableCode } from './ws-codes.js';

export interface CloseFor {
  /** undefined: a close frame without a code (mirrors the client's 1005). */
  readonly code: number | undefined;
  readonly reason: string;
}

const UWS_REASONS: ReadonlyMap<string, CloseFor> = new Map([
  ['Received invalid UTF-8', { code: CLOSE.INVALID_DATA, reason: 'client sent invalid UTF-8' }],
  ['Received too big message', { code: CLOSE.TOO_BIG, reason: 'client message too big' }],
  ['Received too big message, or other inflation error', { code: CLOSE.TOO_BIG, reason: 'client message too big' }],
  ['WebSocket timed out from inactivity', { code: CLOSE.GOING_AWAY, reason: 'client idle timeout' }],
]);

const NO_CLOSE_FRAME: CloseFor = { code: CLOSE.GOING_AWAY, reason: 'client went away without a valid close frame (connection lost or protocol error)' };

/** The close the upstream gets for uWS's report of the client's end (code, message). */
export function upstreamCloseFor(code: number, message: string): CloseFor {
  if (code === 1006) return UWS_REASONS.get(message) ?? NO_CLOSE_FRAME;
  if (code === 1005) return { code: undefined, reason: '' };
  // uWS reports invalid client codes as 1006 (above); should one get through, it is a protocol error.
  return { code: sendableCode(code, CLOSE.PROTOCOL_ERROR), reason: message };
}

/** What the client is told when the upstream leg fails: `ws` names protocol errors by code. */
export function clientCloseForUpstreamError(err: Error & { code?: string }): [number, string] {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return [CLOSE.TOO_BIG, 'upstream message too big'];
  if (err.code === 'WS_ERR_INVALID_UTF8') return [CLOSE.UPSTREAM_ERROR, 'upstream sent invalid UTF-8'];
  if (err.code?.startsWith('WS_ERR_')) return [CLOSE.UPSTREAM_ERROR, 'upstream protocol error'];
  return [CLOSE.UPSTREAM_ERROR, 'upstream error'];
}
