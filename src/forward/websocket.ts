/**
 * WebSocket passthrough: the client side is a uWS WebSocket, the upstream side a
 * `ws` client. The upstream is connected first, so the subprotocol is negotiated
 * end to end before the client's upgrade is answered; an upstream that refuses
 * gets the client a 502 instead of a socket that closes at once.
 *
 * Frames are relayed as whole messages (uWS reassembles fragments), text stays
 * text and binary stays binary, pings are passed on, close codes and reasons
 * cross in both directions.
 *
 * Backpressure: upstream → client pauses the upstream socket while the client's
 * buffer is over `maxBufferedBytes` and resumes on uWS `drain`. uWS v20.30 cannot
 * pause a client's reads, so client → upstream is bounded instead: a client whose
 * messages pile up in the upstream's send buffer beyond the bound is closed 1013.
 */
import WebSocket from 'ws';
import type { AuthContext } from '../request/principal.js';
import type { WebSocket as UwsWebSocket } from '../server/uws.js';
import { CLOSE, sendableCode } from './ws-codes.js';
import { clientCloseForUpstreamError, upstreamCloseFor } from './ws-close.js';

export { CLOSE, sendableCode } from './ws-codes.js';

export interface WsUserData {
  readonly session: WsSession;
}

export interface WsLimits {
  /** Most bytes buffered towards either peer before pausing (upstream) or closing 1013 (client). */
  readonly maxBufferedBytes: number;
  /** Largest message in either direction (`websocket.max_message_bytes`); bigger closes both legs with 1009. */
  readonly maxMessageBytes: number;
}

export interface UpstreamSocket {
  readonly ws: WebSocket;
  readonly protocol: string;
}

/** Open the upstream WebSocket; rejects with the upstream's HTTP status when it refuses. */
export function connectUpstream(
  url: string,
  headers: Record<string, string>,
  protocols: string[],
  timeoutMs: number,
  maxMessageBytes: number,
): Promise<UpstreamSocket> {
  return new Promise((resolve, reject) => {
    // The subprotocol offer is sent and checked here, not by `ws`: `ws` fails a handshake whose answer names
    // no protocol when some were offered, but RFC 6455 §4.1 lets the server pick none (then none is used).
    const offer = protocols.length > 0 ? { ...headers, 'sec-websocket-protocol': protocols.join(', ') } : headers;
    let chosen = '';
    // `ws` refuses an upstream message over maxPayload itself: it closes the upstream with 1009 and emits an error.
    const ws = new WebSocket(url, [], { headers: offer, perMessageDeflate: false, handshakeTimeout: timeoutMs, maxPayload: maxMessageBytes });
    const fail = (err: Error & { status?: number }) => {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(err);
    };
    ws.once('upgrade', (res) => {
      const answer = res.headers['sec-websocket-protocol'];
      // One that was not offered stays in place: `ws` then fails the handshake (502), as RFC 6455 §4.1 asks.
      if (answer === undefined || !protocols.includes(answer)) return;
      delete res.headers['sec-websocket-protocol'];
      chosen = answer;
    });
    ws.once('open', () => {
      // Hold the upstream's first messages until the client's socket exists (attach).
      ws.pause();
      ws.removeAllListeners('error');
      resolve({ ws, protocol: chosen });
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      fail(Object.assign(new Error(`upstream refused the upgrade with ${res.statusCode}`), { status: res.statusCode ?? 502 }));
    });
    ws.once('error', (err) => fail(err));
  });
}

/** How a session's route wants it watched (from `routes[].websocket`, `on_auth_unavailable`, its extensions). */
export interface WsPolicy {
  readonly heartbeatMs: number;
  readonly unavailableGraceMs: number;
  /** `on_auth_unavailable: closed` and fail-closed extensions: close when re-validation is impossible. */
  readonly failClosed: boolean;
}

/**
 * An extension's message gate: it takes over forwarding client messages (checks
 * them first, forwards through `session.toUpstream`); false → too many waiting:
 * close 1013. It sees upstream messages as they pass and the session's end.
 */
export interface WsMessageGate {
  fromClient(data: Buffer, isBinary: boolean): boolean;
  fromUpstream(data: Uint8Array, isBinary: boolean): void;
  close(): void;
  /**
   * The caller's record changed (heartbeat re-check): a reason to close the session
   * (4409) when the change narrowed what it was opened with, else null (go on).
   */
  reconnectFor?(next: AuthContext): string | null;
}

/** What inspects client messages before they are relayed (message limits, an extension's gate). */
export interface WsGate {
  /** A refusal frame for the client when this message is over a limit, else null. */
  limit?(): string | null;
  /** A refusal frame when the session's current entitlements (`session.ctx`) no longer allow this message, else null. */
  check?(data: Buffer, isBinary: boolean): string | null;
  messages?: WsMessageGate;
}

const DEFAULT_POLICY: WsPolicy = { heartbeatMs: 1000, unavailableGraceMs: 5000, failClosed: true };

export class WsSession {
  client: UwsWebSocket<WsUserData> | undefined;
  closed = false;
  /** Last time (ms) the credential was confirmed valid. */
  validatedAt = 0;
  bytesFromClient = 0;
  bytesFromUpstream = 0;
  /** When the client was last heard (message, ping, pong), performance.now() ms: the idle sweep reads it. */
  heardAt = performance.now();
  private pinged = false;
  private onClosed: Array<(code: number) => void> = [];

  constructor(
    readonly upstream: WebSocket,
    private readonly limits: WsLimits,
    /** Route and request the session came from. */
    readonly meta: Readonly<Record<string, unknown>>,
    /**
     * Who is connected (null: anonymous route): revocations and heartbeats match on it.
     * A heartbeat replaces it when the owner's record changed (same caller, new entitlements).
     */
    public ctx: AuthContext | null = null,
    readonly policy: WsPolicy = DEFAULT_POLICY,
  ) {}

  /** Set once, before the client is attached. */
  gate: WsGate | undefined;

  /** Relay to the upstream (also a message gate's forward callback). */
  toUpstream(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    this.upstream.send(data, { binary: isBinary });
    if (this.upstream.bufferedAmount > this.limits.maxBufferedBytes) this.end(CLOSE.OVERLOADED, 'upstream too slow');
  }

  /** Send a frame of the sidecar's own to the client (error frames). */
  toClient(frame: string): void {
    if (!this.closed) this.client?.send(frame, false);
  }

  /** Does a revocation of this kind and id cover this session's caller? */
  matches(kind: 'user' | 'key' | 'session', id: string): boolean {
    const ctx = this.ctx;
    if (!ctx) return false;
    return kind === 'user' ? ctx.user_id === id : kind === 'key' ? ctx.key_id === id : ctx.session_id === id;
  }

  /** Called from uWS `open`: start relaying upstream → client. */
  attach(client: UwsWebSocket<WsUserData>): void {
    this.client = client;
    const up = this.upstream;
    up.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.closed) return;
      this.bytesFromUpstream += data.byteLength;
      this.gate?.messages?.fromUpstream(data, isBinary);
      client.send(data, isBinary);
      if (client.getBufferedAmount() > this.limits.maxBufferedBytes && !up.isPaused) up.pause();
    });
    up.on('ping', (data: Buffer) => {
      if (!this.closed) client.ping(data);
    });
    up.on('close', (code: number, reason: Buffer) => this.end(sendableCode(code, code === 1005 ? CLOSE.NORMAL : CLOSE.UPSTREAM_ERROR), reason.toString()));
    up.on('error', (err: Error & { code?: string }) => this.end(...clientCloseForUpstreamError(err)));
    up.resume();
  }

  /** uWS `message`: relay client → upstream (the ArrayBuffer is only valid now: copy it). */
  fromClient(message: ArrayBuffer, isBinary: boolean): void {
    if (this.closed) return;
    this.heard();
    this.bytesFromClient += message.byteLength;
    // uWS's own ceiling (server.ws_max_payload_bytes or the largest route limit) closes without a close frame; a route's lower limit is enforced here, with one.
    if (message.byteLength > this.limits.maxMessageBytes) return this.end(CLOSE.TOO_BIG, `message over ${this.limits.maxMessageBytes} bytes`);
    const gate = this.gate;
    const data = Buffer.copyBytesFrom(new Uint8Array(message));
    if (gate) {
      const refused = gate.limit?.() ?? gate.check?.(data, isBinary);
      if (refused) return this.toClient(refused);
      if (gate.messages) {
        if (!gate.messages.fromClient(data, isBinary)) this.end(CLOSE.OVERLOADED, 'too many messages waiting');
        return;
      }
    }
    this.toUpstream(data, isBinary);
  }

  /** uWS `ping` from the client: pass it on (uWS already answered the pong). */
  pingFromClient(message: ArrayBuffer): void {
    if (this.closed) return;
    this.heard();
    this.upstream.ping(Buffer.copyBytesFrom(new Uint8Array(message)));
  }

  /** The client said something (a message, ping or pong): it is not idle. */
  heard(): void {
    this.heardAt = performance.now();
    this.pinged = false;
  }

  /** Ask a silent client for a pong (once per silence). */
  pingClient(): void {
    if (this.closed || this.pinged || !this.client) return;
    this.pinged = true;
    this.client.ping();
  }

  /** uWS `drain`: the client caught up; let the upstream flow again. */
  drained(): void {
    const client = this.client;
    if (client && !this.closed && this.upstream.isPaused && client.getBufferedAmount() < this.limits.maxBufferedBytes / 2) this.upstream.resume();
  }

  /** uWS `close`: the client is gone (its socket may not be used any more). */
  clientClosed(code: number, reason: ArrayBuffer): void {
    if (this.closed) return;
    this.closed = true;
    this.client = undefined;
    const told = upstreamCloseFor(code, Buffer.from(reason).toString());
    if (told.code === undefined) this.upstream.close();
    else this.upstream.close(told.code, told.reason.slice(0, 120));
    this.notify(told.code ?? code);
  }

  /** Close both sides from the sidecar (kill switch, drain, upstream gone). */
  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    client?.end(code, reason.slice(0, 120));
    if (this.upstream.readyState === WebSocket.OPEN) this.upstream.close(sendableCode(code, CLOSE.NORMAL), reason.slice(0, 120));
    // CLOSING: `ws` already sent its close frame (e.g. 1009 for an oversized upstream message) and finishes the close itself.
    else if (this.upstream.readyState !== WebSocket.CLOSING) this.upstream.terminate();
    this.notify(code);
  }

  onClose(listener: (code: number) => void): void {
    this.onClosed.push(listener);
  }

  private notify(code: number): void {
    this.gate?.messages?.close();
    const listeners = this.onClosed;
    this.onClosed = [];
    for (const l of listeners) l(code);
  }
}
