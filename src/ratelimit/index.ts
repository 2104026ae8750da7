/**
 * Rate limits (issue 4): GCRA token buckets per subject (key_id, else user_id)
 * and route class, sized by tier; per sidecar across all threads (shared
 * memory store) or cluster-wide through Redis (`ratelimit.scope: global`).
 */
export { createRateLimiter, type Decision, type RateLimiter, type RateLimiterDeps } from './limiter.js';
export { policyFor, subjectOf, limitPolicy, defaultBurst, DEFAULT_ROUTE_CLASS, type LimitPolicy } from './policy.js';
export { admittedHeaders, admittedOutcome, rateLimitHeaders, limitedDenial } from './headers.js';
export { createMessageLimiter, type MessageLimiter, type MessageRate } from './messages.js';
export { createBucketStore, attachBucketStore, type BucketStore } from './store.js';
