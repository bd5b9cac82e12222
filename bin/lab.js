#!/usr/bin/env node
// The `lab` command: runs the compiled CLI (npm install builds it into dist/).
import { access } from 'node:fs/promises';

const entry = new URL('../dist/lab/cli/main.js', import.meta.url);
try {
  await access(entry);
} catch {
  process.stderr.write(`lab: not built yet — run \`npm install\` (or \`npm run build\`) in ${new URL('..', import.meta.url).pathname}\n`);
  process.exit(2);
}
const { main } = await import(entry.href);
const code = await main();
// The command is over: exit now, even if something it started is still winding down (an interrupted lab up, a
// connection's reconnect timer) — but only once stdout and stderr are flushed: a pipe takes large output in pieces.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
