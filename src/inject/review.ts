/**
 * AdmissionReview v1 in, AdmissionReview v1 out
 * (https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#response).
 *
 * Malformed reviews get an AdmissionReview that denies with a message saying
 * what was wrong; nothing here throws on any input.
 */
import { decidePod, isObject, type PodDecision } from './patch.js';
import type { InjectorConfig } from './schema.js';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface ReviewResult {
  /** HTTP status to answer with: 200 for any well-formed review, 400 otherwise. */
  readonly httpStatus: number;
  readonly body: { apiVersion: string; kind: 'AdmissionReview'; response: AdmissionResponse };
  /** What happened, for the log line (never the pod spec: it may carry secrets in env). */
  readonly outcome: 'injected' | 'skipped' | 'denied' | 'malformed';
  readonly detail: string;
}

/** Answer one parsed AdmissionReview body (`undefined` when the body was not JSON). */
export function answerReview(body: unknown, cfg: Readonly<InjectorConfig>): ReviewResult {
  if (!isObject(body)) return malformed('', 'body: expected an AdmissionReview JSON object');
  const request = body.request;
  const uid = isObject(request) && typeof request.uid === 'string' ? request.uid : '';
  if (body.apiVersion !== REVIEW_API_VERSION || body.kind !== 'AdmissionReview') {
    return malformed(
      uid,
      `expected apiVersion ${REVIEW_API_VERSION} and kind AdmissionReview, got ${JSON.stringify(String(body.apiVersion)).slice(0, 80)} / ${JSON.stringify(String(body.kind)).slice(0, 40)}`,
    );
  }
  if (!isObject(request)) return malformed(uid, 'request: expected an object');
  if (uid === '') return malformed(uid, 'request.uid: expected a non-empty string');

  // The MutatingWebhookConfiguration only sends pod CREATEs; anything else that
  // arrives (a widened rule, a subresource) is not ours to change.
  const resource = isObject(request.resource) ? request.resource.resource : undefined;
  if (resource !== 'pods' || request.subResource || request.operation !== 'CREATE') {
    return result(uid, { kind: 'skip', reason: `not a pod CREATE (${String(resource)}/${String(request.subResource ?? '')} ${String(request.operation)})` });
  }
  return result(uid, decidePod(request.object, cfg));
}

function result(uid: string, decision: PodDecision): ReviewResult {
  if (decision.kind === 'skip') {
    return { httpStatus: 200, body: envelope({ uid, allowed: true }), outcome: 'skipped', detail: decision.reason };
  }
  if (decision.kind === 'deny') {
    return {
      httpStatus: 200,
      body: envelope({ uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `argus-sidecar injector: ${decision.message}` } }),
      outcome: 'denied',
      detail: decision.message,
    };
  }
  const patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
  return {
    httpStatus: 200,
    body: envelope({ uid, allowed: true, patchType: 'JSONPatch', patch }),
    outcome: 'injected',
    detail: decision.native ? 'native sidecar' : 'regular container',
  };
}

/** The denial for a body that is not a usable AdmissionReview. */
export function malformed(uid: string, message: string): ReviewResult {
  return {
    httpStatus: 400,
    body: envelope({
      uid,
      allowed: false,
      status: { code: 400, reason: 'BadRequest', message: `argus-sidecar injector: malformed AdmissionReview: ${message}` },
    }),
    outcome: 'malformed',
    detail: message,
  };
}

function envelope(response: AdmissionResponse): ReviewResult['body'] {
  return { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response };
}
