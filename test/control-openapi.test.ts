/**
 * Outcome: the OpenAPI document cannot drift. The one a running `control`
 * serves at /openapi.json equals the checked-in docs/openapi.json (regenerate:
 * `npm run openapi`); it validates as OpenAPI 3.1 (@readme/openapi-parser);
 * every operation has a unique operationId; the SDK's generated types
 * (sdk/schema.ts) name every one of them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { startControlEnv, type ControlEnv } from './support/control.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const checkedIn = JSON.parse(readFileSync(`${ROOT}docs/openapi.json`, 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, { operationId?: string }>>;
};

describe('control OpenAPI document', () => {
  let env: ControlEnv;
  before(async () => {
    env = await startControlEnv();
  });
  after(() => env?.stop());

  it('the served document equals docs/openapi.json (run `npm run openapi` after changing a route)', async () => {
    const served = await (await fetch(`${env.url}/openapi.json`)).json();
    assert.deepEqual(served, checkedIn);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(checkedIn.openapi, '3.1.0');
    const result = await validate(structuredClone(checkedIn) as never);
    assert.equal(result.valid, true, JSON.stringify((result as { errors?: unknown }).errors));
  });

  it('every operation has a unique operationId the SDK types name', () => {
    const ids: string[] = [];
    for (const [path, item] of Object.entries(checkedIn.paths)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(op.operationId, `${method.toUpperCase()} ${path} has no operationId`);
        ids.push(op.operationId);
      }
    }
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    assert.ok(ids.length >= 30, `${ids.length} operations`);
    const sdkTypes = readFileSync(`${ROOT}sdk/schema.ts`, 'utf8');
    for (const id of ids) assert.ok(sdkTypes.includes(`  ${id}: {`), `sdk/schema.ts lacks ${id}: run npm run openapi`);
  });
});
