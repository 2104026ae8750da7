/**
 * Heartbeat re-validation of WebSocket sessions (contract close codes):
 * every route's `websocket.heartbeat_ms`, each live session's credential is
 * re-checked: expired → 4401 (re-authenticate), revoked → 4403. This is also the
 * kill switch's fallback when a pub/sub revocation message is lost: a revoked
 * session is closed within one heartbeat plus one re-check.
 *
 * The re-check also re-reads the owner's record (the user's, or an API key's
 * user or org): when it changed, the session goes on with the new context (the
 * message checks read `session.ctx`, so narrowed features or models refuse the
 * next message), unless the route extension's message gate says the change
 * narrowed what the session was opened with (e.g. an exchange removed): then
 * it is closed 4409 and the client reconnects under the new limits.
 *
 * On fail-closed routes (a fail-closed extension's, or `on_auth_unavailable: closed`), a session
 * whose credential cannot be re-checked (Redis down) for longer than
 * `websocket.unavailable_grace_ms` is closed 1011.
 *
 * One timer per distinct heartbeat interval, not one per session.
 */
import type { AuthContext } from '../request/principal.js';
import type { Logger } from '../observe/log.js';
import { CLOSE, type WsSession } from './websocket.js';

/** `changed`: valid, with a new context (the owner's record changed). */
export type Revalidation = 'ok' | 'expired' | 'revoked' | 'unavailable' | { readonly changed: AuthContext };

export interface HeartbeatDeps {
  readonly sessions: ReadonlySet<WsSession>;
  readonly revalidate: (ctx: AuthContext) => Promise<Revalidation>;
  /** Milliseconds, wall clock (credential expiry is wall-clock time). */
  readonly now: () => number;
  readonly log: Logger;
  /** A session was closed 4403 because its credential was revoked (the kill switch's fallback path). */
  readonly onRevoked?: (s: WsSession) => void;
}

export function createHeartbeats(deps: HeartbeatDeps) {
  const timers = new Map<number, NodeJS.Timeout>();
  const checking = new WeakSet<WsSession>();

  function tick(intervalMs: number): void {
    let any = false;
    for (const s of deps.sessions) {
      if (s.policy.heartbeatMs !== intervalMs) continue;
      any = true;
      check(s);
    }
    if (!any) {
      clearInterval(timers.get(intervalMs));
      timers.delete(intervalMs);
    }
  }

  function check(s: WsSession): void {
    const ctx = s.ctx;
    if (!ctx || s.closed || checking.has(s)) return;
    const now = deps.now();
    if (ctx.expires_at !== undefined && now >= ctx.expires_at * 1000) return s.end(CLOSE.REAUTHENTICATE, 'credential expired');
    checking.add(s);
    deps.revalidate(ctx).then(
      (r) => {
        checking.delete(s);
        apply(s, r);
      },
      () => {
        checking.delete(s);
        apply(s, 'unavailable');
      },
    );
  }

  function apply(s: WsSession, r: Revalidation): void {
    if (s.closed) return;
    const now = deps.now();
    if (typeof r === 'object') {
      const why = s.gate?.messages?.reconnectFor?.(r.changed);
      if (why) return s.end(CLOSE.ENTITLEMENTS_CHANGED, `entitlements changed: ${why}`);
      s.ctx = r.changed;
      s.validatedAt = now;
    } else if (r === 'ok') s.validatedAt = now;
    else if (r === 'expired') s.end(CLOSE.REAUTHENTICATE, 'credential expired');
    else if (r === 'revoked') {
      s.end(CLOSE.REVOKED, 'revoked');
      deps.onRevoked?.(s);
    } else if (s.policy.failClosed && now - s.validatedAt > s.policy.unavailableGraceMs) {
      deps.log.warn('closing a WebSocket session that cannot be re-validated', { route: s.meta['route'] });
      s.end(CLOSE.UPSTREAM_ERROR, 'authorization unavailable');
    }
  }

  return {
    /** Start re-checking a new session on its route's interval. */
    watch(s: WsSession): void {
      s.validatedAt = deps.now();
      const ms = s.policy.heartbeatMs;
      if (!timers.has(ms)) {
        const t = setInterval(() => tick(ms), ms);
        t.unref();
        timers.set(ms, t);
      }
    },
    stop(): void {
      for (const t of timers.values()) clearInterval(t);
      timers.clear();
    },
  };
}
