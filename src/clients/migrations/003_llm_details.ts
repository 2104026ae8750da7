/**
 * LLM event details issue 6 asks the ledger to keep: cached input tokens, time to
 * first token, and whether the counts were estimated or the response partial.
 */
export const sql = `
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS cached_input_tokens bigint;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS ttft_ms double precision;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS estimated boolean;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS partial boolean;
`;
