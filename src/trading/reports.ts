/**
 * Position/P&L reports: upstream → client messages from which the sidecar learns
 * each user's realized P&L, so the daily loss limit can be checked before the next
 * order. The upstream is trusted, but its messages are parsed with the same
 * bounded parser: a malformed report is ignored (and the caller may log it).
 */
import type { TradingConfig } from './schema.js';
import { getPath } from './json.js';
import { MAX_AMOUNT, matches, parseMessageObject } from './orders.js';

export interface PnlReport {
  /** Realized P&L in USD: negative is a loss. A delta or the day's total, per `report.pnl`. */
  readonly realizedPnlUsd: number;
  /** Report id when `report.id` is configured and present (bounded). */
  readonly id?: string;
}

/** The P&L a report message carries, or null for any other (or malformed) message. Never throws. */
export function parseReport(data: string | Uint8Array, cfg: TradingConfig): PnlReport | null {
  // Market data streams through here too: skip the JS parser unless the P&L key's name occurs
  // verbatim (a native byte search). The upstream is trusted not to hide it behind \u escapes.
  const key = lastSegment(cfg.report.realized_pnl_usd);
  if (!(typeof data === 'string' ? data.includes(key) : Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes(key))) return null;
  // Reports are judged regardless of the client-side non_json policy: anything unparseable is simply not a report.
  const msg = parseMessageObject(data, { ...cfg, non_json: 'reject' });
  if (msg === null || 'reason' in msg) return null;
  const r = cfg.report;
  if (!matches(msg.obj, r.match)) return null;
  const v = getPath(msg.obj, r.realized_pnl_usd);
  const pnl = typeof v === 'number' ? v : typeof v === 'string' && v.length <= 64 && /^\s*[+-]?[0-9.eE+-]+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(pnl) || Math.abs(pnl) > MAX_AMOUNT) return null;
  if (r.id === undefined) return { realizedPnlUsd: pnl };
  const id = getPath(msg.obj, r.id);
  const sid = typeof id === 'string' && id.length > 0 ? id.slice(0, 128) : typeof id === 'number' && Number.isFinite(id) ? String(id) : undefined;
  return sid === undefined ? { realizedPnlUsd: pnl } : { realizedPnlUsd: pnl, id: sid };
}

function lastSegment(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? path : path.slice(dot + 1);
}
