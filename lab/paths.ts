/**
 * Where lab's own files are. At the bottom of the import tree: providers, the harness and the CLI all ask here.
 * Compiled to dist/lab/paths.js, so the package root (package.json, bin/, dist/) is two levels up.
 */
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root, with a trailing slash. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
