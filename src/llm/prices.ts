/**
 * Cost of an LLM response from the config price table (`llm.prices`:
 * provider → model → USD per million tokens).
 *
 * Providers answer with dated model ids (`gpt-4o-2024-08-06`) for an undated
 * request (`gpt-4o`), so a lookup tries, in order: the exact name, glob keys
 * (`gpt-4o-2024-*`; the longest pattern first), then the name without a trailing
 * date (`-2024-08-06`, `-20241022`). Never a bare prefix: `gpt-4o` must not price
 * `gpt-4o-mini`.
 */
import type { LlmConfig, ModelPrice } from './schema.js';
import { compileGlob } from './glob.js';

export interface Cost {
  /** USD, rounded to 1e-9. 0 when the model has no price. */
  readonly cost_usd: number;
  /** False when no price matched (cost 0): flag the event so it can be repriced. */
  readonly priced: boolean;
}

export interface TokenCounts {
  readonly input_tokens: number;
  readonly output_tokens: number;
  /** Part of input_tokens that was cached; priced at `cached_input_per_mtok` (default: input price). */
  readonly cached_input_tokens?: number;
}

export interface PriceTable {
  /** The price for a provider's model, or undefined. */
  lookup(provider: string, model: string | undefined): ModelPrice | undefined;
  /** Cost of the counts; tries each model name in turn (response model, then request model). */
  cost(provider: string, models: ReadonlyArray<string | undefined>, usage: TokenCounts): Cost;
}

const DATE_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8})$/;

interface ProviderPrices {
  exact: Map<string, ModelPrice>;
  globs: Array<{ test: (s: string) => boolean; price: ModelPrice }>;
}

/** Build the lookup once from validated config. */
export function createPriceTable(prices: LlmConfig['prices']): PriceTable {
  const table = new Map<string, ProviderPrices>();
  for (const [provider, models] of Object.entries(prices)) {
    const entry: ProviderPrices = { exact: new Map(), globs: [] };
    const patterns = Object.keys(models)
      .filter((m) => /[*?]/.test(m))
      .sort((a, b) => b.length - a.length);
    for (const [model, price] of Object.entries(models)) if (!/[*?]/.test(model)) entry.exact.set(model, price);
    for (const p of patterns) entry.globs.push({ test: compileGlob(p), price: models[p]! });
    table.set(provider, entry);
  }

  function lookup(provider: string, model: string | undefined): ModelPrice | undefined {
    const entry = table.get(provider);
    if (!entry || !model) return undefined;
    const exact = entry.exact.get(model);
    if (exact) return exact;
    for (const g of entry.globs) if (g.test(model)) return g.price;
    const undated = model.replace(DATE_SUFFIX, '');
    return undated !== model ? entry.exact.get(undated) : undefined;
  }

  function cost(provider: string, models: ReadonlyArray<string | undefined>, usage: TokenCounts): Cost {
    let price: ModelPrice | undefined;
    for (const m of models) if ((price = lookup(provider, m))) break;
    if (!price) return { cost_usd: 0, priced: false };
    const cached = Math.min(usage.cached_input_tokens ?? 0, usage.input_tokens);
    const usd =
      ((usage.input_tokens - cached) * price.input_per_mtok +
        cached * (price.cached_input_per_mtok ?? price.input_per_mtok) +
        usage.output_tokens * price.output_per_mtok) /
      1e6;
    return { cost_usd: Math.round(usd * 1e9) / 1e9, priced: true };
  }

  return { lookup, cost };
}
