/**
 * Stripe Billing meter events through the official SDK, behind a small
 * interface: one call, one classified outcome.
 *
 * The SDK's own retries are off (`maxNetworkRetries: 0`): the reporter owns
 * backoff, and resending is safe because every meter event carries its
 * deterministic `identifier`, which Stripe deduplicates for at least 24 h.
 */
import Stripe from 'stripe';
import type { StripeConfig } from '../meter/schema.js';

export interface MeterEventRequest {
  readonly meter: string;
  readonly customer: string;
  /** Whole units as a decimal string (Stripe's payload values are strings). */
  readonly value: string;
  readonly identifier: string;
  /** Unix seconds; Stripe accepts the past 35 days up to 5 minutes ahead. */
  readonly timestamp: number;
}

/**
 * accepted: Stripe stored it. duplicate: Stripe already had this identifier (an
 * earlier attempt got through). retry: 429, 5xx, timeout or network error —
 * back off and resend. rejected: any other 4xx; resending would not help.
 */
export type SendOutcome = { outcome: 'accepted' | 'duplicate' } | { outcome: 'retry' | 'rejected'; error: string; status?: number };

export interface MeterEventSender {
  send(req: MeterEventRequest): Promise<SendOutcome>;
}

export function createStripeSender(cfg: StripeConfig): MeterEventSender {
  const target = cfg.base_url ? new URL(cfg.base_url) : null;
  const stripe = new Stripe(cfg.api_key, {
    maxNetworkRetries: 0,
    timeout: cfg.timeout_ms,
    telemetry: false,
    ...(target
      ? {
          host: target.hostname,
          port: target.port || (target.protocol === 'http:' ? 80 : 443),
          protocol: target.protocol === 'http:' ? 'http' : 'https',
        }
      : {}),
  });

  return {
    async send(req) {
      try {
        await stripe.billing.meterEvents.create({
          event_name: req.meter,
          payload: { stripe_customer_id: req.customer, value: req.value },
          identifier: req.identifier,
          timestamp: req.timestamp,
        });
        return { outcome: 'accepted' };
      } catch (err) {
        return classify(err);
      }
    },
  };
}

function classify(err: unknown): SendOutcome {
  const e = err as { statusCode?: number; code?: string; message?: string; type?: string };
  const status = e.statusCode;
  const message = String(e.message ?? err).slice(0, 500);
  if (status === undefined || status === 429 || status >= 500 || status === 408 || status === 409) {
    return status === undefined ? { outcome: 'retry', error: message } : { outcome: 'retry', error: message, status };
  }
  if (isDuplicate(e)) return { outcome: 'duplicate' };
  return { outcome: 'rejected', error: message, status };
}

/** Stripe answers a reused identifier with an invalid-request error naming it. */
function isDuplicate(e: { code?: string; message?: string }): boolean {
  if (e.code === 'resource_already_exists' || e.code === 'duplicate_meter_event') return true;
  return /identifier/i.test(e.message ?? '') && /already|duplicate/i.test(e.message ?? '');
}
