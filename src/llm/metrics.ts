/**
 * LLM metrics on the process registry: argus_llm_tokens_total{provider,model,direction}
 * and argus_llm_quota_decisions_total{outcome}.
 */
import { Counter, type Registry } from 'prom-client';
import type { QuotaOutcome } from './budget.js';

export interface LlmMetrics {
  /** Count a response's tokens. */
  recordTokens(provider: string, model: string | undefined, input: number, output: number): void;
  /** Pass as `onDecision` to a budget. */
  quotaDecision(outcome: QuotaOutcome): void;
}

/** Distinct model label values kept; later new models are labelled "other" (cardinality guard). */
const MAX_MODELS = 200;

export function createLlmMetrics(registry: Registry): LlmMetrics {
  const registers = [registry];
  const tokens = new Counter({
    name: 'argus_llm_tokens_total',
    help: 'LLM tokens metered, by provider, model and direction (input|output)',
    labelNames: ['provider', 'model', 'direction'],
    registers,
  });
  const decisions = new Counter({
    name: 'argus_llm_quota_decisions_total',
    help: 'Daily token budget decisions (reserved|exceeded|unavailable)',
    labelNames: ['outcome'],
    registers,
  });
  const models = new Set<string>();

  function modelLabel(model: string | undefined): string {
    if (!model) return 'unknown';
    if (models.has(model)) return model;
    if (models.size >= MAX_MODELS || model.length > 100) return 'other';
    models.add(model);
    return model;
  }

  return {
    recordTokens(provider, model, input, output) {
      const m = modelLabel(model);
      if (input > 0) tokens.inc({ provider, model: m, direction: 'input' }, input);
      if (output > 0) tokens.inc({ provider, model: m, direction: 'output' }, output);
    },
    quotaDecision(outcome) {
      decisions.inc({ outcome });
    },
  };
}
