/**
 * The pipeline's LLM step, between rate limit and forward on routes with `llm:`:
 * read the request body (bounded), check the model and reserve the daily token
 * budget (gateway.prepare), then watch the response as it streams to the client
 * (usage extraction), draining or cancelling per `on_client_abort` when the
 * client leaves, and hand one `llm` event to metering when the upstream is done.
 */
import type { AuthContext } from '../request/principal.js';
import { deny, type Denial } from '../errors.js';
import type { RelayOptions } from '../forward/relay.js';
import { headerValue } from '../forward/headers.js';
import type { Exchange } from '../request/exchange.js';
import type { LlmEventFields } from './event.js';
import type { LlmGateway, PreparedLlmRequest } from './gateway.js';
import type { RouteLlmConfig } from './schema.js';
import { isEventStream } from './usage/extractor.js';
import { limitPolicy, limitedDenial, subjectOf, type LimitPolicy, type RateLimiter } from '../ratelimit/index.js';

/** `checkpoint`: usage so far of a response still streaming (metering spools it before the bytes go out). */
export type LlmEventSink = (ex: Exchange, ctx: AuthContext | null, event: LlmEventFields, checkpoint?: boolean) => void;

export interface LlmStage {
  /** Collect and inspect the body: the bytes to forward, or a denial (403 model, 429 budget, 503, 413). */
  prepare(ex: Exchange, route: RouteLlmConfig, ctx: AuthContext | null): Promise<PreparedLlmRequest | Denial>;
  /** Relay options that meter the response and apply `on_client_abort`. */
  relayOptions(ex: Exchange, ctx: AuthContext | null, prepared: PreparedLlmRequest): RelayOptions;
  /** The upstream never answered: return the budget reservation. */
  release(prepared: PreparedLlmRequest): void;
}

/**
 * `limiter`: enforces the caller's own LLM requests per minute
 * (`AuthContext.llm.requests_per_minute`), on top of the route's tier limit.
 */
export function createLlmStage(gateway: LlmGateway, sink: LlmEventSink, limiter?: RateLimiter): LlmStage {
  const policies = new Map<number, LimitPolicy>();
  const llmPolicy = (rpm: number, tier: string) => {
    let p = policies.get(rpm);
    if (!p) policies.set(rpm, (p = limitPolicy({ name: 'llm', tier, routeClass: 'llm', limit: rpm })));
    return p;
  };
  return {
    async prepare(ex, route, ctx) {
      const rpm = ctx?.llm?.requests_per_minute;
      if (limiter && ctx && rpm) {
        const policy = llmPolicy(rpm, ctx.tier);
        // LLM routes fail closed (routes.ts failsClosed): no local share while Redis is away.
        const d = await limiter.check(subjectOf(ctx), policy, 1, true);
        if (d.unavailable) return deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'rate limits are unavailable: Redis is unreachable', [['retry-after', '1']]);
        if (!d.allowed) return limitedDenial(policy, d);
      }
      const raw = ex.body ? await ex.body.collect(route.max_request_body_bytes) : Buffer.alloc(0);
      if (raw === null) return deny('ARGUS_PAYLOAD_TOO_LARGE', `LLM request bodies are limited to ${route.max_request_body_bytes} bytes`);
      return gateway.prepare(route, ctx ?? undefined, raw, ex.startedAt);
    },

    relayOptions(ex, ctx, prepared) {
      let meter: ReturnType<LlmGateway['meterResponse']> | undefined;
      let streaming = false;
      const route = prepared.route;
      return {
        observer: {
          onStart: (_status, headers) => {
            const type = headerValue(headers, 'content-type');
            meter = gateway.meterResponse(prepared, type);
            streaming = isEventStream(type);
          },
          onChunk: (chunk) => {
            if (!meter) return;
            meter.push(chunk);
            // A stream (SSE) bills what was delivered if the proxy dies mid-way: a checkpoint before the bytes go out.
            if (streaming) sink(ex, ctx, meter.snapshot(), true);
          },
          onEnd: (outcome) => {
            if (!meter) {
              void gateway.release(prepared);
              return;
            }
            sink(ex, ctx, meter.finish(outcome !== 'complete').event);
          },
        },
        ...(route.on_client_abort === 'drain'
          ? { drain: { timeoutMs: route.drain_timeout_ms, maxBytes: route.drain_max_bytes, done: () => meter?.usageComplete === true } }
          : {}),
      };
    },

    release(prepared) {
      void gateway.release(prepared);
    },
  };
}
