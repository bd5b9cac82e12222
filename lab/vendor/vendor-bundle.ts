/**
 * Build step (npm run build, after tsc): each re-export of a package in lab/vendor becomes, in dist/lab/vendor, one
 * file holding that package and its dependencies, made by esbuild. Every lab command loads some of them at start,
 * and as ~100 separate modules (each resolved, read, compiled and linked; CommonJS wrappers) they cost about twice
 * the CPU of the bundles (`lab status` on 12 hosts: 22 % less CPU in all). Nothing else changes: lab's own modules
 * stay as tsc wrote them (their import.meta.url, the task modules workers import), and a build without this step
 * still runs, through the plain re-exports.
 */
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The re-exports' sources (lab/vendor/*.ts) and their place in the build (dist/lab/vendor). */
const SOURCE = fileURLToPath(new URL('../../../lab/vendor/', import.meta.url));
const OUT = fileURLToPath(new URL('.', import.meta.url));
/** Packages written as CommonJS reach Node's built-ins through require(), which an ES module has to make. */
const COMMONJS = new Set(['ioredis', 'yaml', 'cli-table3']);
const REQUIRE_BANNER = "import { createRequire as __labCreateRequire } from 'node:module'; const require = __labCreateRequire(import.meta.url);";

/** Bundle every re-export of lab/vendor from its source (so a second run gives the same files); the names bundled. */
export async function bundleVendor(source = SOURCE, out = OUT): Promise<string[]> {
  const names = (await readdir(source)).filter((f) => f.endsWith('.ts') && f !== 'vendor-bundle.ts').map((f) => f.slice(0, -'.ts'.length));
  const tmp = join(out, '.bundle');
  await rm(tmp, { recursive: true, force: true });
  try {
    for (const name of names) {
      await build({
        entryPoints: [join(source, `${name}.ts`)],
        outfile: join(tmp, `${name}.js`),
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        banner: COMMONJS.has(name) ? { js: REQUIRE_BANNER } : undefined,
        legalComments: 'inline',
        logLevel: 'error',
      });
    }
    for (const name of names) {
      await rename(join(tmp, `${name}.js`), join(out, `${name}.js`));
      // tsc's map was of the re-export this file no longer is
      await rm(join(out, `${name}.js.map`), { force: true });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return names;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await bundleVendor();
