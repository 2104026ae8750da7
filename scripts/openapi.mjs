// Regenerate the control plane's OpenAPI 3.1 document (docs/openapi.json) from the
// route definitions in src/control/api/, and the SDK's types from it (sdk/schema.ts,
// openapi-typescript). Run through `npm run openapi` (builds first); commit both.
// test/control-openapi.test.ts fails when the served document and the checked-in one differ.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import openapiTS, { astToString } from 'openapi-typescript';
import { openApiDocument } from '../dist/src/control/api/app.js';

const root = new URL('../', import.meta.url);
const doc = openApiDocument();
const docFile = new URL('docs/openapi.json', root);
writeFileSync(docFile, JSON.stringify(doc, null, 2) + '\n');
// Fields with a default are optional in requests (the server fills them in).
const ast = await openapiTS(doc, { alphabetize: false, defaultNonNullable: false });
const header =
  '/**\n * Types of the control plane API, generated from docs/openapi.json by openapi-typescript\n * (`npm run openapi`). Do not edit by hand.\n */\n';
writeFileSync(new URL('sdk/schema.ts', root), header + astToString(ast));
execFileSync('npx', ['biome', 'format', '--write', 'docs/openapi.json', 'sdk/schema.ts'], { cwd: root, stdio: 'inherit' });
process.stdout.write(`openapi: ${Object.keys(doc.paths).length} paths written to docs/openapi.json and sdk/schema.ts\n`);
