/**
 * What every service function gets: the validated config, Postgres (source of
 * truth), Redis (projection and pub/sub; null when not configured), the
 * sidecar's own authenticator (null in the CLI) and a clock.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import type { Pool } from '../../clients/postgres.js';
import type { Logger } from '../../observe/log.js';
import type { Authenticator } from '../../authenticate/index.js';
import type { Meter } from '../../meter/producer.js';
import type { BillingStripe } from '../billing/stripe-api.js';

/** Billing's outside systems (src/control/billing/): absent in the CLI. */
export interface BillingRuntime {
  /** Null when `stripe.api_key` is not configured (billing operations answer 501). */
  readonly stripe: BillingStripe | null;
  /** The usage producer for `POST /v1/usage/events` (src/meter/producer.ts); null when metering is off. */
  readonly meter: Meter | null;
  /** Each webhook's outcome; for processed ones, seconds from receipt to projection. */
  readonly onWebhook?: (outcome: string, projectedAfterS?: number) => void;
}

export interface ServiceDeps {
  readonly cfg: Readonly<Config>;
  readonly pool: Pool;
  readonly redis: Redis | null;
  /** `redis.key_prefix` (default `argus:`). */
  readonly prefix: string;
  readonly log: Logger;
  readonly authn: Authenticator | null;
  /** Clock in ms (default Date.now). */
  readonly now: () => number;
  /** Told about every projection attempt after a commit (metrics). */
  readonly onProjection?: (outcome: 'ok' | 'failed') => void;
  readonly billing?: BillingRuntime;
}
