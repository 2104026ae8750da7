/** Field types of `x-argus-usage` items (src/meter/usage-header.ts), shared with the extensions' items. */
import { z } from 'zod';

/** A provider, model, exchange or symbol name. */
export const usageName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/, 'letters, digits and ._:/@+-');
export const usageCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const usageAmount = z.number().nonnegative().max(1e15);
