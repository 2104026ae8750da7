/** WebSocket close codes the sidecar sends (RFC 6455 §7.4.1 and the contract's 44xx). */
export const CLOSE = {
  NORMAL: 1000,
  DRAINING: 1001,
  /** 1001 too: the client went away (idle, or no close frame). */
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  INVALID_DATA: 1007,
  TOO_BIG: 1009,
  UPSTREAM_ERROR: 1011,
  OVERLOADED: 1013,
  REAUTHENTICATE: 4401,
  REVOKED: 4403,
  /** The caller's entitlements narrowed in a way an extension cannot apply in place: reconnect under the new limits (docs/websockets.md). */
  ENTITLEMENTS_CHANGED: 4409,
} as const;

/** A code the sidecar may send in a close frame (1005/1006/1015 are reserved). */
export function sendableCode(code: number, fallback: number): number {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : fallback;
}
