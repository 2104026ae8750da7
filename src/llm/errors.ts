/** The LLM extension's error codes, registered into the one table (src/errors.ts). */
import { registerErrorCodes } from '../errors.js';

export const LLM_ERRORS = registerErrorCodes({
  /** The caller's entitlements do not allow the model its request names. */
  ARGUS_MODEL_NOT_ALLOWED: 403,
} as const);

declare module '../errors.js' {
  interface ExtensionErrorCodes {
    ARGUS_MODEL_NOT_ALLOWED: 403;
  }
}
