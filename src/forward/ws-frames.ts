/** The sidecar's own WebSocket text frames (a refused client message). */
import { statusOf, type Denial } from '../errors.js';

/**
 * The WebSocket error message for a refused client message (a JSON text frame):
 * `{"type":"error","error":{"code","message","status","request_id"},"client_order_id"?}`.
 * `status` is the code's HTTP-status class (403, 400, 503), for clients that branch on it.
 */
export function errorFrame(denial: Denial, requestId: string, clientOrderId?: string): string {
  const frame: Record<string, unknown> = {
    type: 'error',
    error: { code: denial.code, message: denial.message, status: statusOf(denial.code), request_id: requestId },
  };
  if (clientOrderId !== undefined) frame['client_order_id'] = clientOrderId;
  return JSON.stringify(frame);
}
