/**
 * Modules of the user's that lab loads — task modules (`lab worker -A`, an inventory's `tasks:`), a settings module
 * (`--config`, `config:`), a scenario (`lab run ./scenario.js`) — are JavaScript. TypeScript is refused with one
 * line saying how to get the JavaScript, rather than loaded through a loader lab would have to ship and keep
 * working on every host (and Node's own type stripping is not there on Node 20).
 */

/** The file endings lab loads as modules. */
export const JS_MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs'] as const;

const TS_RE = /\.(?:m|c)?ts$/i;
const JS_RE = /\.(?:m|c)?js$/i;

export function isTypeScriptPath(path: string): boolean {
  return TS_RE.test(path) && !/\.d\.(?:m|c)?ts$/i.test(path);
}

export function isJavaScriptPath(path: string): boolean {
  return JS_RE.test(path);
}

/** The .js that `tsc` emits for a .ts (next to it without an outDir). */
export function emittedJs(path: string): string {
  return path.replace(/\.(m|c)?ts$/i, (_m, x: string | undefined) => `.${x ?? ''}js`);
}

/** What to tell a user who gave lab a TypeScript module. */
export function compileHint(path: string): string {
  return `lab loads JavaScript, not TypeScript: compile it (npx tsc) and give lab the .js it emits (e.g. ${emittedJs(path)})`;
}
