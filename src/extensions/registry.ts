/**
 * The registration point of the product verticals: one line per product. A new
 * product is a folder with an `extension.ts` (src/extensions/contract.ts) and a
 * line here (docs/architecture.md, "Adding a product vertical").
 */
import { llm } from '../llm/extension.js';
import { trading } from '../trading/extension.js';
import { registerExtension } from './registered.js';

export const PRODUCTS = [llm, trading] as const;

for (const product of PRODUCTS) registerExtension(product);
