/**
 * The LLM product (Prism) as a route extension (src/extensions/contract.ts): a
 * route with `llm:` gets model entitlements, the caller's own requests per
 * minute, daily token budgets (Redis, or memory when standalone), usage
 * extraction from the streamed response and one `llm` usage event per call.
 */
import type { ExtensionDeps, ExtensionRuntime, PreparedRequest, RouteExtension } from '../extensions/contract.js';
import { createMemoryBudget, createRedisBudget } from './budget.js';
import { llmEntitlementSchema } from './entitlement-schema.js';
import { LLM_ERRORS } from './errors.js';
import { createLlmGateway, type PreparedLlmRequest } from './gateway.js';
import { createLlmMetrics } from './metrics.js';
import { llmSchema, routeLlmSchema, type LlmConfig, type RouteLlmConfig } from './schema.js';
import { createLlmStage, type LlmStage } from './stage.js';
import { llmReportedUsage, llmUsageEvent } from './usage-event.js';
import { createMessageModelCheck, modelGate } from './ws-models.js';

declare module '../extensions/slots.js' {
  interface ExtensionConfigs {
    llm: LlmConfig;
  }
  interface ExtensionRouteConfigs {
    /** LLM gateway route: usage metering, model entitlements, token budgets (src/llm/schema.ts). */
    llm?: RouteLlmConfig;
  }
}

export const llm: RouteExtension = {
  name: 'llm',
  configSchema: llmSchema.default({}),
  routeSchema: routeLlmSchema.optional(),
  entitlementSchema: llmEntitlementSchema,
  entitlementHelp: 'LLM entitlements, e.g. \'{"models":["gpt-4o-mini"],"daily_token_budget":100000}\'',
  reportedUsage: llmReportedUsage,
  errors: LLM_ERRORS,
  usedBy: (route) => route.llm !== undefined,
  // Token budgets live in Redis: no local share, no stale decision.
  failsClosed: true,
  meters: true,
  start: startLlm,
};

function startLlm(deps: ExtensionDeps): ExtensionRuntime {
  const metrics = createLlmMetrics(deps.metrics.registry);
  const budget = deps.redis
    ? createRedisBudget(deps.redis, { prefix: deps.keyPrefix, onDecision: metrics.quotaDecision })
    : createMemoryBudget({ onDecision: metrics.quotaDecision });
  const gateway = createLlmGateway({ llm: deps.config as LlmConfig, budget, metrics, now: deps.now });
  const usage = deps.usage;
  const stage = createLlmStage(
    gateway,
    usage ? (ex, ctx, e, checkpoint) => usage.record(llmUsageEvent(usage.base(ex, ctx), ex.eventKey(), e), checkpoint) : () => undefined,
    deps.limiter,
  );
  const models = createMessageModelCheck((deps.config as LlmConfig).model_tiers);
  return {
    async prepare(ex, route, ctx) {
      const prepared = await stage.prepare(ex, route.cfg.llm!, ctx);
      if ('code' in prepared) return prepared;
      return preparedRequest(stage, prepared, () => stage.relayOptions(ex, ctx, prepared));
    },
    // WebSocket routes: messages naming a model are held to the caller's current LLM entitlements.
    gate: (session, route, ctx, requestId) => (ctx && route.cfg.websocket ? modelGate(session, models, requestId) : undefined),
  };
}

function preparedRequest(stage: LlmStage, prepared: PreparedLlmRequest, relayOptions: PreparedRequest['relayOptions']): PreparedRequest {
  return {
    body: prepared.body,
    clientHeaders: stripLlmRequestHeaders,
    // Compressed responses cannot be read for usage.
    extraHeaders: IDENTITY_ENCODING,
    relayOptions,
    release: () => stage.release(prepared),
  };
}

const IDENTITY_ENCODING = ['accept-encoding', 'identity'] as const;

/** LLM bodies go out as one Buffer (maybe rewritten): the upstream client sets Content-Length; the sidecar picks the encoding. */
function stripLlmRequestHeaders(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name === 'content-length' || name === 'accept-encoding' || name === 'transfer-encoding') continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}
