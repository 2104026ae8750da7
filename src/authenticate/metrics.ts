/**
 * Authentication metrics on the process's Metrics registry (names: notes/metric-names.md).
 * Hot-path counters are pre-bound children, so a cache hit costs no label hashing.
 * Registering twice on one registry (two Authenticators in a test) reuses the metrics.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Metrics } from '../observe/metrics.js';
import type { AuthMethod } from './context.js';

type Outcome = 'ok' | 'denied' | 'unavailable' | 'stale' | 'anonymous';

function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createAuthMetrics(metrics: Metrics) {
  const registers = [metrics.registry];
  const r = metrics.registry;
  const decisions = getOrCreate(r, 'argus_auth_decisions_total', () => new Counter({ name: 'argus_auth_decisions_total', help: 'Authentication decisions by credential method and outcome', labelNames: ['method', 'outcome'], registers }));
  const cache = getOrCreate(r, 'argus_auth_cache_total', () => new Counter({ name: 'argus_auth_cache_total', help: 'Credential cache lookups by layer (l1 process, l2 Redis) and result', labelNames: ['layer', 'result'], registers }));
  const duration = getOrCreate(r, 'argus_auth_duration_seconds', () => new Histogram({
    name: 'argus_auth_duration_seconds',
    help: 'Authentication time on a cache miss: phase=cold (signature/HMAC/lookup), phase=total (whole miss path)',
    labelNames: ['phase'],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2],
    registers,
  }));
  let ageSource: () => number = () => -1;
  const jwksAge = getOrCreate(r, 'argus_jwks_age_seconds', () => new Gauge({
    name: 'argus_jwks_age_seconds',
    help: 'Age of the JWKS key set in use (-1: none loaded)',
    registers,
    collect() {
      this.set(ageSource());
    },
  }));
  const jwksFetchFailures = getOrCreate(r, 'argus_jwks_fetch_failures_total', () => new Counter({ name: 'argus_jwks_fetch_failures_total', help: 'Failed JWKS fetches', registers }));
  const failOpen = getOrCreate(r, 'argus_auth_fail_open_total', () => new Counter({ name: 'argus_auth_fail_open_total', help: 'Requests served on a stale cached decision while auth dependencies were unreachable', labelNames: ['route'], registers }));
  const revocations = getOrCreate(r, 'argus_revocations_total', () => new Counter({ name: 'argus_revocations_total', help: 'Revocations received and applied, by kind', labelNames: ['kind'], registers }));

  const bound = new Map<string, Counter.Internal>();
  const decision = (method: AuthMethod, outcome: Outcome): Counter.Internal => {
    const k = method + outcome;
    let c = bound.get(k);
    if (c === undefined) bound.set(k, (c = decisions.labels(method, outcome)));
    return c;
  };
  void jwksAge;

  return {
    decision,
    l1Hit: cache.labels('l1', 'hit'),
    l1Miss: cache.labels('l1', 'miss'),
    l2Hit: cache.labels('l2', 'hit'),
    l2Miss: cache.labels('l2', 'miss'),
    coldDuration: duration.labels('cold'),
    totalDuration: duration.labels('total'),
    jwksFetchFailures,
    failOpen,
    revocations,
    /** The JWKS store reports its age through this (last registration wins). */
    setJwksAgeSource(fn: () => number) {
      ageSource = fn;
    },
  };
}

export type AuthMetrics = ReturnType<typeof createAuthMetrics>;
