/**
 * One auth event (docs/observability.md, "Auth events"): its shape, id and the
 * XADD that publishes it. No dependencies beyond node: the `revoke` CLI, whose
 * start-up is the kill switch's latency, imports this and nothing heavier.
 */
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';

export type AuthEventKind = 'refusal' | 'ws_close' | 'revocation' | 'tier_change';

/** One event; ids only (key id, session id), never a credential. */
export interface AuthEvent {
  /** Unique: `<sidecar>/<pid>/<thread>/<start>/<seq>` (the table's key with `at`). */
  readonly id: string;
  readonly kind: AuthEventKind;
  /** The decision: an `ARGUS_*` code, a WebSocket close code (`WS_4403`), or the revocation kind. */
  readonly code: string;
  readonly status?: number;
  readonly user_id?: string;
  /** The credential's id: API key id, session id; for revocations the revoked id. */
  readonly credential_id?: string;
  /** key | session | jwt | user. */
  readonly credential_kind?: string;
  readonly route?: string;
  /** The sidecar (host name: the pod) that saw it, or the CLI host. */
  readonly sidecar: string;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly request_id?: string;
  readonly trace_id?: string;
  readonly span_id?: string;
  /** Small extra facts (old and new tier, close reason). */
  readonly detail?: Readonly<Record<string, string | number>>;
}

export type AuthEventInput = Omit<AuthEvent, 'id' | 'sidecar' | 'at'> & { readonly at?: number };

/** The sidecar's name in events: the host name (in Kubernetes, the pod). */
export const SIDECAR_ID = hostname();

/** An id generator for events from this process and thread. */
export function eventIds(): () => string {
  const base = `${SIDECAR_ID}/${process.pid}/${threadId}/${Date.now().toString(36)}/`;
  let seq = 0;
  return () => base + (seq++).toString(36);
}

/** The stream key: `<redis.key_prefix><observability.auth_events.stream>`. */
export function authEventStreamKey(prefix: string, stream: string): string {
  return prefix + stream;
}

/** The XADD of one event (RESP argument list), for producers outside the proxy (the revoke and users CLIs). */
export function xaddArgs(key: string, maxLen: number, e: AuthEvent): string[] {
  return ['XADD', key, 'MAXLEN', '~', String(maxLen), '*', 'e', JSON.stringify(e)];
}

/** A complete event from an input (id, sidecar and time filled in). */
export function completeEvent(e: AuthEventInput, id: string, now: number): AuthEvent {
  return { ...e, id, sidecar: SIDECAR_ID, at: e.at ?? now };
}
