/**
 * The inventory validator `npm run build` writes as code (lab/topology/precompile-schema.ts) is the one commands use,
 * and it must judge every inventory exactly as ajv compiling the schema at run time does.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { PRECOMPILED_VALIDATOR, compileInventoryValidator, inventoryValidator, schemaDigest } from '../../lab/topology/schema.js';
import { FIXTURES } from './helpers.js';

test('the build wrote the validator from the current schema, and commands use it', async () => {
  const pre = (await import(PRECOMPILED_VALIDATOR.href)) as { digest: string; default: ValidateFunction };
  assert.equal(pre.digest, schemaDigest(), 'dist/lab/topology/inventory-validator.js is stale: npm run build writes it');
  assert.equal(await inventoryValidator(), pre.default);
});

test('precompiled and run-time compiled validators give the same verdict and errors on every inventory fixture', async () => {
  const pre = (await import(PRECOMPILED_VALIDATOR.href)) as { default: ValidateFunction };
  const { validate: runtime } = await compileInventoryValidator();
  const shape = (errs: ErrorObject[] | null | undefined): unknown[] =>
    (errs ?? []).map((e) => ({ instancePath: e.instancePath, keyword: e.keyword, params: e.params, message: e.message, schemaPath: e.schemaPath, data: e.data, parentSchema: e.parentSchema }));
  let files = 0;
  let rejected = 0;
  for (const dir of ['good', 'bad']) {
    for (const name of readdirSync(join(FIXTURES, dir)).filter((f) => /\.ya?ml$/.test(f))) {
      let data: unknown;
      try {
        data = parse(readFileSync(join(FIXTURES, dir, name), 'utf8'));
      } catch {
        continue; // a YAML syntax fixture never reaches the schema
      }
      files++;
      const a = pre.default(data);
      const b = runtime(data);
      assert.equal(a, b, `${dir}/${name}: verdicts differ`);
      if (!a) rejected++;
      assert.deepEqual(shape(pre.default.errors), shape(runtime.errors), `${dir}/${name}: errors differ`);
    }
  }
  assert.ok(files >= 20 && rejected >= 10, `expected many fixtures, some rejected by the schema: ${files} files, ${rejected} rejected`);
});
