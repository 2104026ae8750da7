/**
 * The one contract between the generic core and a product extension (one per
 * product vertical of the Argus family). The core (pipeline, authorize,
 * config, metering, WebSockets) reaches a product only through this interface;
 * the product keeps its words in its own folder and is listed once in
 * `src/extensions/registry.ts`. Steps for a new one: docs/architecture.md,
 * "Adding a product vertical".
 *
 * Every hook is optional; a hook runs only on routes the extension is
 * {@link RouteExtension.usedBy used by}, so routes of other products pay nothing.
 */
import type { AnyZodObject, ZodTypeAny } from 'zod';
import type { AuthContext } from '../request/principal.js';
import type { RouteConfig } from '../request/route-schema.js';
import type { Denial } from '../errors.js';
import type { RelayOptions } from '../forward/relay.js';
import type { WsMessageGate, WsSession } from '../forward/websocket.js';
import type { UsageEvent } from '../meter/events.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { RateLimiter } from '../ratelimit/index.js';
import type { CompiledRoute } from '../request/route.js';
import type { Exchange } from '../request/exchange.js';
import type { Redis } from '../clients/redis.js';

export interface RouteExtension {
  /** The extension's key everywhere: config section, `routes[]` key, record field, readiness name. */
  readonly name: string;
  /** Schema of the top-level `<name>:` config section (must accept `undefined`: give it a default). */
  readonly configSchema?: ZodTypeAny;
  /** Schema of `routes[].<name>` (optional or defaulted). */
  readonly routeSchema?: ZodTypeAny;
  /** Schema of the `<name>` entitlements in key and user records (absent: the record has none). */
  readonly entitlementSchema?: ZodTypeAny;
  /** `keys create --help` text of its `--<name> JSON` flag (after the flag). */
  readonly entitlementHelp?: string;
  /** Its own error codes → HTTP status, added to the one table (src/errors.ts) at registration. */
  readonly errors?: Readonly<Record<string, number>>;
  /** Its usage kind as an upstream may report it in `x-argus-usage` (and as a measured fact). */
  readonly reportedUsage?: ReportedUsage;
  /** Whether this route uses the extension (its `routes[].<name>` is set). */
  usedBy(route: RouteConfig): boolean;
  /** The route refuses (503) rather than trust a cache or a local share while Redis is away. */
  readonly failsClosed?: boolean;
  /** Its routes record usage even with `meter: false` (their last bytes wait for the spool). */
  readonly meters?: boolean;
  /** WebSocket sessions on its routes close when their credential cannot be re-validated. */
  readonly sessionsFailClosed?: boolean;
  /**
   * Admission on top of authorize (after role, tier, features and scopes, same
   * request → same code). Also makes the route require a caller.
   */
  authorize?(ctx: AuthContext, route: RouteConfig): Denial | null;
  /** Build the per-thread runtime at startup (only when some route uses the extension). */
  start?(deps: ExtensionDeps): ExtensionRuntime;
}

/** What an extension's runtime gets from the core: its own config slice and shared clients. */
export interface ExtensionDeps {
  /** The parsed `<name>:` section (its own schema's output). */
  readonly config: unknown;
  /** Absent in standalone mode. */
  readonly redis?: Redis;
  readonly keyPrefix: string;
  /** `metering.service`. */
  readonly service: string;
  readonly limiter: RateLimiter;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Monotonic ms clock. */
  readonly now: () => number;
  /** Where usage events go (absent: metering off). */
  readonly usage?: UsageSink;
}

/** Metering as an extension sees it: the common columns, and where events go. */
export interface UsageSink {
  /** The columns every event of this request has (user, key, customer, service, route, request id). */
  base(ex: Exchange, ctx: AuthContext | null): UsageBase;
  /** Record an event; `checkpoint`: usage so far of a response still streaming (superseded by the final one). */
  record(event: UsageEvent, checkpoint?: boolean): void;
}

export interface UsageBase {
  readonly user_id: string | null;
  readonly key_id: string | null;
  readonly stripe_customer: string | null;
  readonly service: string;
  readonly route: string;
  readonly request_id: string;
}

/** An extension's `x-argus-usage` item and the ledger event it becomes. */
export interface ReportedUsage {
  /** Strict object schema with `kind: z.literal(<kind>)`. */
  readonly item: AnyZodObject;
  /** The event for a validated item (or a measured fact of the same shape); `latencyMs`: the request's. */
  event(base: UsageBase & { readonly occurred_at: number }, item: Readonly<Record<string, unknown>>, eventId: string, latencyMs: number): UsageEvent;
}

export interface ExtensionRuntime {
  /** Readiness of its fail-closed dependencies; false refuses new WebSocket sessions on its routes (503). */
  ready?(): boolean;
  /** The denial for a WebSocket upgrade while not {@link ready}. */
  readonly unavailable?: Denial;
  /** Request preparation before forward (read the body, check, reserve): what to send, or a denial. */
  prepare?(ex: Exchange, route: CompiledRoute, ctx: AuthContext | null): Promise<PreparedRequest | Denial>;
  /** The WebSocket message gate of a new session on its route (undefined: none). */
  gate?(session: WsSession, route: CompiledRoute, ctx: AuthContext | null, requestId: string, eventKey: string): WsMessageGate | undefined;
  close?(): Promise<unknown> | unknown;
}

/** A prepared request: the body and headers to send, how to relay the response. */
export interface PreparedRequest {
  readonly body: Uint8Array;
  /** The client's headers as they should reach header rewriting (e.g. length and encoding removed). */
  clientHeaders(headers: readonly string[]): string[];
  /** Appended after the rewritten headers (e.g. `accept-encoding: identity`). */
  readonly extraHeaders: readonly string[];
  /** Relay options: response observer (usage), behaviour when the client leaves. */
  relayOptions(): RelayOptions;
  /** The upstream will never be asked: undo reservations. */
  release(): void;
}
