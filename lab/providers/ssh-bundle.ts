/**
 * The lab bundle shipped to ssh hosts that run lab (workers, master, quotes): a gzipped tarball of the built
 * package — package.json, package-lock.json, bin/, dist/ (without the compiled tests and benchmarks), peers/ (the
 * chapter's Python programs, for `lab run --impl`) and node_modules/ without the heavy development-only packages —
 * plus a content hash. The remote keeps the hash in `<labRoot>/.lab-ship`;
 * the same hash there means the same files, and the upload is skipped.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { ProviderError } from '../errors.js';
import { labHome } from '../topology/state.js';
import { join } from 'node:path';

export interface Bundle {
  /** Local path of the .tgz. */
  file: string;
  /** sha256 (hex) over every shipped path, its type and content. */
  hash: string;
  /** Size of the tarball. */
  bytes: number;
  files: number;
  /** How long hashing + packing took (0 when the tarball was already there). */
  buildMs: number;
}

const TOP = ['package.json', 'package-lock.json', 'bin', 'dist', 'peers', 'node_modules'];
/** Not needed to run lab on a host: compiled tests, benchmarks and their support, the TypeScript compiler and the bundler (build tools), the test browser, type packages. */
const EXCLUDE = [
  'dist/test',
  'dist/bench',
  'dist/support',
  'dist/.tsbuildinfo',
  'node_modules/.bin',
  'node_modules/.cache',
  'node_modules/typescript',
  'node_modules/esbuild',
  'node_modules/@esbuild',
  'node_modules/playwright-core',
  'node_modules/@types',
];

function excluded(rel: string): boolean {
  if (EXCLUDE.some((x) => rel === x || rel.startsWith(`${x}/`))) return true;
  // Python's byte-code caches are written where the programs ran, not shipped
  if (rel.split('/').includes('__pycache__')) return true;
  // type declarations and source maps of dependencies are never loaded at run time
  return rel.startsWith('node_modules/') && /\.(d\.ts|d\.mts|d\.cts|map)$/.test(rel);
}

interface Item {
  rel: string;
  kind: 'file' | 'link';
}

async function walk(root: string, rel: string, out: Item[]): Promise<void> {
  if (excluded(rel)) return;
  let st;
  try {
    st = await lstat(join(root, rel));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  // A top-level folder that is a link (node_modules of a git worktree) is shipped as what it points to: the link
  // itself would name a path of this machine.
  if (st.isSymbolicLink() && !rel.includes('/') && (await stat(join(root, rel)).catch(() => null))?.isDirectory()) st = await stat(join(root, rel));
  if (st.isSymbolicLink()) out.push({ rel, kind: 'link' });
  else if (st.isFile()) out.push({ rel, kind: 'file' });
  else if (st.isDirectory()) {
    const names = (await readdir(join(root, rel))).sort();
    for (const n of names) await walk(root, `${rel}/${n}`, out);
  }
}

/** The shipped files (sorted) and their content hash. */
export async function bundleContents(root: string): Promise<{ items: Item[]; hash: string }> {
  const items: Item[] = [];
  for (const top of TOP) await walk(root, top, items);
  const h = createHash('sha256');
  for (const it of items) {
    h.update(`${it.rel}\0${it.kind}\0`);
    if (it.kind === 'link') h.update(await readlink(join(root, it.rel)));
    else {
      const st = await stat(join(root, it.rel));
      h.update(`${st.mode & 0o111 ? 'x' : '-'}\0`);
      h.update(await readFile(join(root, it.rel)));
    }
    h.update('\0');
  }
  return { items, hash: h.digest('hex') };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new ProviderError(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`, { code: 'E_SHIP', cause: err }));
      else resolve();
    });
  });
}

const cache = new Map<string, Promise<Bundle>>();

/** Hash the built package at `root` and pack it (once per process and content; kept in a temp folder). */
export function labBundle(root: string): Promise<Bundle> {
  let p = cache.get(root);
  if (!p) {
    p = build(root);
    cache.set(root, p);
    p.catch(() => cache.delete(root));
  }
  return p;
}

async function build(root: string): Promise<Bundle> {
  const t0 = performance.now();
  const { items, hash } = await bundleContents(root);
  if (!items.some((i) => i.rel === 'package.json') || !items.some((i) => i.rel.startsWith('dist/lab/'))) {
    throw new ProviderError(`${root} does not hold a built lab (package.json and dist/lab/ are needed: run npm run build)`, { code: 'E_SHIP' });
  }
  // Under the user's own lab home (0700), not a guessable /tmp path another user could have planted a tarball in.
  const dir = join(labHome(), 'cache', 'bundles');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(join(labHome(), 'cache'), 0o700);
  const file = join(dir, `lab-${hash.slice(0, 24)}.tgz`);
  try {
    const st = await stat(file);
    return { file, hash, bytes: st.size, files: items.length, buildMs: 0 };
  } catch {
    // not packed yet
  }
  const list = join(dir, `list-${randomBytes(6).toString('hex')}`);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(list, items.map((i) => `${i.rel}\0`).join(''), { mode: 0o600 });
  try {
    await run('tar', ['-C', root, '-czf', tmp, '--no-recursion', '--null', '-T', list]);
    await rename(tmp, file);
  } finally {
    await rm(list, { force: true });
    await rm(tmp, { force: true });
  }
  // older bundles are of no use any more
  for (const n of await readdir(dir)) if (n.startsWith('lab-') && n.endsWith('.tgz') && join(dir, n) !== file) await rm(join(dir, n), { force: true });
  const st = await stat(file);
  return { file, hash, bytes: st.size, files: items.length, buildMs: performance.now() - t0 };
}
