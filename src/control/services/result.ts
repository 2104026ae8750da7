/** Outcomes of service operations as values: a value and its HTTP status, or a denial (src/errors.ts). */
import { deny, type Denial, type ErrorCode } from '../../errors.js';

export type Result<T> =
  | { readonly ok: true; readonly value: T; readonly status: 200 | 201; readonly replayed?: boolean }
  | { readonly ok: false; readonly denial: Denial };

export function ok<T>(value: T, status: 200 | 201 = 200): Result<T> {
  return { ok: true, value, status };
}

export function fail<T = never>(code: ErrorCode, message: string): Result<T> {
  return { ok: false, denial: deny(code, message) };
}

export const notFound = <T = never>(what: string): Result<T> => fail('ARGUS_NOT_FOUND', `no such ${what}`);
