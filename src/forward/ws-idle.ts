/**
 * The sidecar's own WebSocket idle timeout (`server.ws_idle_timeout_s`), so that a
 * silent client gets a close frame (1001 "idle timeout") and the upstream the same
 * code and reason. uWS's idle timeout, set 8 s later as a backstop, closes the TCP
 * connection without a close frame.
 *
 * A session is heard on every complete message, ping or pong from its client.
 * Silent for half the timeout, the client is pinged (a live client answers with a
 * pong); silent for the whole timeout, the session is closed. That also ends a
 * client stuck in the middle of a frame that never completes, e.g. an unmasked
 * frame, which uWS v20.30 reads as a masked one and waits for bytes that never come.
 *
 * One sweep for all sessions, at an eighth of the timeout (250 ms to 1 s).
 */
import { CLOSE } from './ws-codes.js';
import type { WsSession } from './websocket.js';

export interface IdleDeps {
  readonly sessions: ReadonlySet<WsSession>;
  readonly idleMs: number;
  /** Monotonic milliseconds (the sessions' own clock: performance.now). */
  readonly now: () => number;
}

export function createIdleSweeper(deps: IdleDeps) {
  const { sessions, idleMs, now } = deps;
  const timer = setInterval(
    function sweep() {
      const t = now();
      for (const s of sessions) {
        const silent = t - s.heardAt;
        if (silent >= idleMs) s.end(CLOSE.GOING_AWAY, 'idle timeout');
        else if (silent >= idleMs / 2) s.pingClient();
      }
    },
    Math.max(250, Math.min(1000, idleMs / 8)),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
