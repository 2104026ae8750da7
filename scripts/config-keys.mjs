// Print every config key path with its type and default (from the zod schema in
// src/config.ts), as the rows docs/configuration.md's "All keys" table starts from.
// Run after `npm run build`: node scripts/config-keys.mjs
import { configSchema } from '../dist/src/config.js';
import { configKeyPaths } from '../dist/test/support/config-keys.js';

for (const k of configKeyPaths(configSchema)) {
  const dflt = k.default !== undefined ? `\`${k.default}\`` : k.required ? 'required' : '—';
  console.log(`| \`${k.path}\` | ${k.type.replace(/\|/g, '\\|')} | ${dflt.replace(/\|/g, '\\|')} |`);
}
