/** Token usage extraction: one extractor per response, picked by route format and Content-Type. */
export { createUsageExtractor, estimateTokens, isEventStream, type ExtractorRoute, type UsageExtractorOptions } from './extractor.js';
export type { LlmUsage, UsageExtractor } from './types.js';
