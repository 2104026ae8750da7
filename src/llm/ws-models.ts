/**
 * The LLM message gate of a WebSocket route with `llm:` (realtime-style APIs): a
 * client text message that is a JSON object naming a `model` is checked against
 * the caller's current LLM entitlements (`session.ctx`, which a heartbeat updates
 * when the owner's record changes); a refused one gets an error frame and the
 * session stays open. Other messages pass; a caller with no LLM entitlements at
 * all may send none.
 */
import { deny, type Denial } from '../errors.js';
import type { WsMessageGate, WsSession } from '../forward/websocket.js';
import { errorFrame } from '../forward/ws-frames.js';
import type { AuthContext } from '../request/principal.js';
import { createModelCheck } from './entitlements.js';
import type { LlmConfig } from './schema.js';

const MODEL = Buffer.from('"model"');
const NO_LLM = deny('ARGUS_MODEL_NOT_ALLOWED', 'this credential has no LLM entitlements');

export type MessageModelCheck = (ctx: AuthContext, data: Buffer, isBinary: boolean) => Denial | null;

export function createMessageModelCheck(modelTiers: LlmConfig['model_tiers']): MessageModelCheck {
  const check = createModelCheck({ modelTiers });
  return function messageModel(ctx, data, isBinary) {
    if (ctx.llm === undefined) return NO_LLM;
    // Only messages that can name a model are parsed.
    if (isBinary || data.indexOf(MODEL) < 0) return null;
    let model: unknown;
    try {
      model = (JSON.parse(data.toString('utf8')) as { model?: unknown } | null)?.model;
    } catch {
      return null;
    }
    return typeof model === 'string' ? check(ctx, model) : null;
  };
}

/** The session's message gate: checked messages go on to the upstream, refused ones get an error frame. */
export function modelGate(session: WsSession, check: MessageModelCheck, requestId: string): WsMessageGate {
  return {
    fromClient(data, isBinary) {
      const ctx = session.ctx;
      const denial = ctx === null ? null : check(ctx, data, isBinary);
      if (denial === null) session.toUpstream(data, isBinary);
      else session.toClient(errorFrame(denial, requestId));
      return true;
    },
    fromUpstream: () => undefined,
    close: () => undefined,
  };
}
