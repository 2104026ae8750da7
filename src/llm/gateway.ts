/**
 * The LLM stage as the pipeline uses it: three calls per request.
 *
 * 1. `prepare(route.llm, ctx, body)` after authorize and rate limit, with the
 *    request body collected (`createRequestBodyCollector`): reads the body, checks
 *    the model (403), reserves the daily token budget (429 / 503). Returns the
 *    bytes to forward (maybe rewritten: set Content-Length from them).
 * 2. `meterResponse(prepared, contentType)` when the upstream's head arrives;
 *    `push` every upstream body chunk as it is read (also while draining after a
 *    client abort).
 * 3. `finish(cutShort)` once, when the upstream body ended or reading stopped:
 *    returns the `llm` event fields, records token metrics and settles the
 *    reservation in the background. `release(prepared)` instead when no response
 *    came (upstream refused or timed out before the head).
 */
import type { AuthContext } from '../request/principal.js';
import type { Denial } from '../errors.js';
import { reservationTokens, type BudgetReservation, type TokenBudget } from './budget.js';
import { createModelCheck, type ModelCheck } from './entitlements.js';
import { buildLlmEvent, type LlmEventFields } from './event.js';
import type { LlmMetrics } from './metrics.js';
import { createPriceTable, type PriceTable } from './prices.js';
import { inspectLlmRequest, type LlmRequestInfo } from './request.js';
import type { LlmConfig, RouteLlmConfig } from './schema.js';
import { createUsageExtractor } from './usage/extractor.js';
import type { LlmUsage } from './usage/types.js';

export interface LlmGatewayOptions {
  /** The validated top-level `llm:` config section. */
  llm: LlmConfig;
  /** Daily token budgets; absent: none enforced. Callers without `llm.daily_token_budget` are never limited. */
  budget?: TokenBudget;
  metrics?: LlmMetrics;
  /** The pipeline's clock (same one as `startedAt`). Default Date.now. */
  now?: () => number;
  /** Callers without LLM entitlements: deny (default) or allow any model. */
  withoutEntitlements?: 'allow' | 'deny';
}

export interface PreparedLlmRequest {
  readonly route: RouteLlmConfig;
  readonly info: LlmRequestInfo;
  /** Forward these bytes. */
  readonly body: Uint8Array;
  /** True when `body` was rewritten: Content-Length = body.byteLength. */
  readonly rewritten: boolean;
  readonly reservation?: BudgetReservation;
  readonly startedAt: number;
}

export interface LlmResponseMeter {
  /** Feed each upstream body chunk, in order. Never throws. */
  push(chunk: Uint8Array): void;
  /** The final usage has arrived (format end marker seen): a drain after client abort may stop. */
  readonly usageComplete: boolean;
  /**
   * The response is over. `cutShort`: reading stopped before the upstream's end
   * (abort mode, drain limits, upstream error). Idempotent: later calls return the
   * first result. `settled` resolves when the budget was reconciled (false: store
   * unreachable, the reservation stands until the day key expires).
   */
  finish(cutShort: boolean): { event: LlmEventFields; usage: LlmUsage; settled: Promise<boolean> };
  /** The event as it stands mid-response (partial: true), for metering checkpoints. */
  snapshot(): LlmEventFields;
}

export interface LlmGateway {
  prepare(route: RouteLlmConfig, ctx: AuthContext | undefined, body: Uint8Array, startedAt?: number): Promise<PreparedLlmRequest | Denial>;
  meterResponse(prepared: PreparedLlmRequest, contentType: string | undefined): LlmResponseMeter;
  /** No response will come: give the whole reservation back. Never rejects. */
  release(prepared: PreparedLlmRequest): Promise<boolean>;
  readonly prices: PriceTable;
  readonly checkModel: ModelCheck;
}

export function createLlmGateway(opts: LlmGatewayOptions): LlmGateway {
  const now = opts.now ?? Date.now;
  const prices = createPriceTable(opts.llm.prices);
  const checkModel = createModelCheck({
    modelTiers: opts.llm.model_tiers,
    ...(opts.withoutEntitlements ? { withoutEntitlements: opts.withoutEntitlements } : {}),
  });
  const budget = opts.budget;

  async function prepare(route: RouteLlmConfig, ctx: AuthContext | undefined, body: Uint8Array, startedAt = now()): Promise<PreparedLlmRequest | Denial> {
    const { info, body: forward, rewritten } = inspectLlmRequest(body, route);
    const denied = checkModel(ctx, info.model);
    if (denied) return denied;
    const prepared = { route, info, body: forward, rewritten, startedAt };
    const limit = ctx?.llm?.daily_token_budget;
    if (!budget || limit === undefined || !ctx) return prepared;
    const r = await budget.reserve(ctx.user_id, limit, reservationTokens(info, route.default_max_tokens));
    if ('code' in r) return r;
    return { ...prepared, reservation: r };
  }

  function meterResponse(prepared: PreparedLlmRequest, contentType: string | undefined): LlmResponseMeter {
    const extractor = createUsageExtractor(prepared.route, contentType, {
      now,
      promptTokens: prepared.info.prompt_tokens,
      ...(prepared.info.model !== undefined ? { requestModel: prepared.info.model } : {}),
    });
    let done: ReturnType<LlmResponseMeter['finish']> | undefined;
    return {
      push: (chunk) => extractor.push(chunk),
      get usageComplete() {
        return extractor.complete;
      },
      snapshot() {
        if (done) return done.event;
        return buildLlmEvent({
          provider: prepared.route.provider,
          ...(prepared.info.model !== undefined ? { requestModel: prepared.info.model } : {}),
          usage: extractor.snapshot(),
          prices,
          startedAt: prepared.startedAt,
          endedAt: now(),
          cutShort: true,
        });
      },
      finish(cutShort) {
        if (done) return done;
        const usage = extractor.finish();
        const event = buildLlmEvent({
          provider: prepared.route.provider,
          ...(prepared.info.model !== undefined ? { requestModel: prepared.info.model } : {}),
          usage,
          prices,
          startedAt: prepared.startedAt,
          endedAt: now(),
          cutShort,
        });
        opts.metrics?.recordTokens(event.provider, event.model, event.input_tokens, event.output_tokens);
        const settled = prepared.reservation && budget ? budget.settle(prepared.reservation, usage.input_tokens + usage.output_tokens) : Promise.resolve(true);
        done = { event, usage, settled };
        return done;
      },
    };
  }

  async function release(prepared: PreparedLlmRequest): Promise<boolean> {
    if (!prepared.reservation || !budget) return true;
    return budget.settle(prepared.reservation, 0);
  }

  return { prepare, meterResponse, release, prices, checkModel };
}
