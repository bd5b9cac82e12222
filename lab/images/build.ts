/**
 * `lab images build`: one image per role from Debian packages — no registry needed, only a Debian mirror (and the npm
 * registry for Node, once). Per image:
 *
 *   1. a root filesystem: `debootstrap --variant=minbase --include=<the role's packages>`, kept as a tarball in
 *      `<cache>/images/rootfs-<kind>-<key>.tar`, the key a hash of mirror + suite + arch + variant + packages — the
 *      cold part (minutes for RabbitMQ's Erlang), done once;
 *   2. what lab adds on top (node image: Node ≥ 20 from the npm registry's verified package at /usr/local/bin/node, the
 *      lab bundle at /opt/lab; every image: /etc/lab-image.json saying what it is) appended to a copy of that tarball;
 *   3. imported through the Engine API (as `docker import`) and tagged `localhost/lab-<kind>:<hash of its content>` —
 *      the bundle's hash is part of it, so a new commit makes a new tag instead of serving a stale lab. An image
 *      with that tag already on the engine is not built again.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InterruptedError, LabError } from '../errors.js';
import type { DockerEngine } from '../providers/docker-engine.js';
import { LABEL_BUNDLE } from '../providers/docker-layout.js';
import type { Progress } from '../providers/provider.js';
import { labBundle } from '../providers/ssh-bundle.js';
import { ARCHES, ArchError, archFromEngine } from './arch.js';
import type { LabArch } from './arch.js';
import { checkMirror } from './debian-mirror.js';
import { NODE_VERSIONS, labCacheDir, nodeRuntime } from './node-runtime.js';
import { ROLE_IMAGES } from './role-images.js';
import type { ImageKind } from './role-images.js';

export class ImageBuildError extends LabError {
  constructor(message: string, options: { cause?: unknown; exitCode?: 1 | 2 } = {}) {
    super('E_IMAGE_BUILD', message, options);
  }
}

export const VARIANT = 'minbase';

export interface BuildOptions {
  kinds: ImageKind[];
  /** Default: the engine's own. */
  arch?: LabArch;
  mirror: string;
  suite: string;
  engine: DockerEngine;
  packageRoot: string;
  progress: Progress;
  signal?: AbortSignal;
  /** Default: <lab home>/cache (env LAB_CACHE_DIR). */
  cacheDir?: string;
}

export interface BuiltImage {
  kind: ImageKind;
  ref: string;
  id: string;
  bytes: number;
  content: string;
  /** What came from the cache: the root filesystem tarball, the whole image (already on the engine). */
  cached: { rootfs: boolean; image: boolean };
  ms: number;
  rootfsMs: number;
}

export interface BuildResult {
  arch: LabArch;
  mirror: string;
  suite: string;
  node: string;
  images: BuiltImage[];
  ms: number;
}


/** The root filesystem's cache key: everything debootstrap's result depends on. */
export function rootfsKey(o: { mirror: string; suite: string; arch: LabArch; packages: readonly string[] }): string {
  const body = JSON.stringify({ mirror: o.mirror.replace(/\/+$/, ''), suite: o.suite, arch: o.arch, variant: VARIANT, packages: [...o.packages].sort() });
  return createHash('sha256').update(body).digest('hex');
}

/** Can the engine run `arch`? Its own arch, or a binfmt_misc handler (qemu-user-static) for it on this machine. */
export function archRunnable(arch: LabArch, engineArch: string, binfmtDir = '/proc/sys/fs/binfmt_misc'): { ok: true } | { ok: false; why: string } {
  const native = archFromEngine(engineArch);
  if (native === arch) return { ok: true };
  const qemu = arch === 'armhf' ? 'qemu-arm' : `qemu-${ARCHES[arch].uname[0]}`;
  if (existsSync(join(binfmtDir, qemu))) return { ok: true };
  return {
    ok: false,
    why: `the engine runs ${engineArch} and this machine has no binfmt_misc handler for ${arch} (${join(binfmtDir, qemu)} is missing): build ${arch} images on a ${arch} machine, or install qemu-user-static and binfmt-support here`,
  };
}

function aborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new InterruptedError('lab images build interrupted');
}

/** Run a command, its output lines to `onLine`; killed (by its pid) on abort. Resolves with its exit code and the last lines. */
function runCommand(argv: string[], onLine: (l: string) => void, signal?: AbortSignal): Promise<{ code: number; tail: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' } });
    const tail: string[] = [];
    let buf = '';
    const take = (c: Buffer): void => {
      buf += c.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tail.push(l);
        if (tail.length > 15) tail.shift();
        onLine(l);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const onAbort = (): void => void child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.once('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      resolve({ code: code ?? 1, tail });
    });
  });
}

async function tar(args: string[], signal?: AbortSignal): Promise<void> {
  const r = await runCommand(['tar', ...args], () => undefined, signal);
  aborted(signal);
  if (r.code !== 0) throw new ImageBuildError(`tar ${args.slice(0, 3).join(' ')}… failed: ${r.tail.join('; ')}`);
}

/** The root filesystem tarball of an image kind: from the cache, or debootstrap'd (with progress) and cached. */
async function rootfs(kind: ImageKind, o: BuildOptions & { arch: LabArch }, dir: string): Promise<{ file: string; key: string; cached: boolean; ms: number }> {
  const packages = ROLE_IMAGES[kind].packages;
  const key = rootfsKey({ mirror: o.mirror, suite: o.suite, arch: o.arch, packages });
  const file = join(dir, `rootfs-${kind}-${o.arch}-${key.slice(0, 16)}.tar`);
  const step = 'rootfs';
  if (existsSync(file)) {
    o.progress({ host: kind, step, status: 'skip', detail: `${file} (cached)` });
    return { file, key, cached: true, ms: 0 };
  }
  const t0 = performance.now();
  const work = await mkdtemp(join(dir, `build-${kind}-`));
  const root = join(work, 'root');
  try {
    const argv = ['debootstrap', `--variant=${VARIANT}`, `--arch=${o.arch}`, `--include=${packages.join(',')}`, o.suite, root, o.mirror];
    o.progress({ host: kind, step, status: 'start', detail: argv.join(' ') });
    let got = 0;
    let last = 0;
    let phase = 'retrieving';
    const r = await runCommand(
      argv,
      (l) => {
        const m = /^I: (Retrieving|Unpacking|Configuring|Installing) /.exec(l);
        if (!m) return;
        const p = m[1]!.toLowerCase();
        if (p !== phase) (phase = p), (got = 0);
        got++;
        const now = Date.now();
        if (now - last >= 2000) {
          last = now;
          o.progress({ host: kind, step, status: 'info', detail: `debootstrap: ${phase} (${got} packages)` });
        }
      },
      o.signal,
    );
    aborted(o.signal);
    if (r.code !== 0) throw new ImageBuildError(`debootstrap of the ${kind} image failed (exit ${r.code}); last lines: ${r.tail.slice(-5).join(' | ')}`);
    // what apt downloaded is not part of the image
    await runCommand(['sh', '-c', 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/debootstrap', 'sh', root], () => undefined);
    const part = `${file}.${randomBytes(4).toString('hex')}.part`;
    await tar(['-C', root, '--numeric-owner', '-cf', part, '.'], o.signal);
    await rename(part, file);
    const ms = performance.now() - t0;
    o.progress({ host: kind, step, status: 'done', detail: `${file} (${((await stat(file)).size / 1e6).toFixed(0)} MB)` });
    return { file, key, cached: false, ms };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Build (or find) the images of `o.kinds`. */
export async function buildImages(o: BuildOptions): Promise<BuildResult> {
  const t0 = performance.now();
  aborted(o.signal);
  // what needs no engine first: a user's mistake is one line before anything is contacted or made
  if (process.getuid?.() !== 0) throw new ImageBuildError('debootstrap needs root: run lab images build as root (sudo)', { exitCode: 2 });
  if (!existsSync('/usr/sbin/debootstrap')) throw new ImageBuildError('debootstrap is not installed: apt-get install -y debootstrap', { exitCode: 2 });
  await checkMirror(o.mirror, o.suite);
  o.progress({ step: 'mirror', status: 'info', detail: `${o.mirror} serves ${o.suite}` });
  const v = await o.engine.version();
  o.progress({ step: 'engine', status: 'info', detail: `${o.engine.target.describe}: ${v.engine} ${v.version} (${v.arch})` });
  const native = archFromEngine(v.arch);
  const arch = o.arch ?? native;
  if (!arch) throw new ArchError(`the engine runs ${v.arch}, an architecture lab does not build images for (${Object.keys(ARCHES).join(', ')})`);
  const can = archRunnable(arch, v.arch);
  if (!can.ok) throw new ArchError(`cannot build ${arch} images here: ${can.why}`);
  const cacheDir = o.cacheDir ?? labCacheDir();
  const dir = join(cacheDir, 'images');
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const wantsNode = o.kinds.includes('node');
  const node = wantsNode ? await nodeRuntime(arch, (text) => o.progress({ host: 'node', step: 'node runtime', status: 'info', detail: text }), { cacheDir }) : null;
  const bundle = wantsNode ? await labBundle(o.packageRoot) : null;
  const images = await Promise.all(
    o.kinds.map(async (kind): Promise<BuiltImage> => {
      const k0 = performance.now();
      const base = await rootfs(kind, { ...o, arch }, dir);
      aborted(o.signal);
      const about = {
        kind,
        suite: o.suite,
        arch,
        mirror: o.mirror,
        packages: ROLE_IMAGES[kind].packages,
        rootfs: base.key,
        ...(kind === 'node' ? { node: node!.spec, nodeIntegrity: node!.integrity, labBundle: bundle!.hash } : {}),
        official: ROLE_IMAGES[kind].official,
        differences: ROLE_IMAGES[kind].differences,
      };
      const aboutText = `${JSON.stringify(about, null, 2)}\n`;
      const content = createHash('sha256').update(aboutText).digest('hex');
      const ref = `localhost/lab-${kind}:${content.slice(0, 12)}`;
      const have = await o.engine.image(ref);
      if (have && have.labels['lab.content'] === content) {
        o.progress({ host: kind, step: 'image', status: 'skip', detail: `${ref} is on the engine` });
        return { kind, ref, id: have.id, bytes: have.size, content, cached: { rootfs: base.cached, image: true }, ms: performance.now() - k0, rootfsMs: base.ms };
      }
      o.progress({ host: kind, step: 'image', status: 'start', detail: ref });
      const work = await mkdtemp(join(dir, `layer-${kind}-`));
      try {
        const overlay = join(work, 'overlay');
        const add = ['./etc/lab-image.json'];
        await mkdir(join(overlay, 'etc'), { recursive: true });
        await writeFile(join(overlay, 'etc', 'lab-image.json'), aboutText, { mode: 0o644 });
        if (kind === 'node') {
          await mkdir(join(overlay, 'usr', 'local', 'bin'), { recursive: true });
          await tar(['-xzf', node!.tarball, '-C', work, node!.binaryPath, 'package/LICENSE'], o.signal);
          await rename(join(work, node!.binaryPath), join(overlay, 'usr', 'local', 'bin', 'node'));
          await mkdir(join(overlay, 'usr', 'local', 'share', 'doc', 'node'), { recursive: true });
          await rename(join(work, 'package', 'LICENSE'), join(overlay, 'usr', 'local', 'share', 'doc', 'node', 'LICENSE'));
          await mkdir(join(overlay, 'opt', 'lab'), { recursive: true });
          await tar(['-xzf', bundle!.file, '-C', join(overlay, 'opt', 'lab'), '--no-same-owner'], o.signal);
          add.push('./usr/local/bin/node', './usr/local/share/doc/node', './opt/lab');
        }
        const final = join(work, 'image.tar');
        await copyFile(base.file, final);
        await tar(['-rf', final, '-C', overlay, '--owner=0', '--group=0', '--numeric-owner', ...add], o.signal);
        const changes = [
          `LABEL lab.role=${kind}`,
          `LABEL lab.content=${content}`,
          ...(kind === 'node' ? [`LABEL ${LABEL_BUNDLE}=${bundle!.hash}`, `LABEL lab.node=${NODE_VERSIONS[arch]}`] : []),
          'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          'ENV LANG=C.UTF-8',
        ];
        o.progress({ host: kind, step: 'image', status: 'info', detail: `importing ${((await stat(final)).size / 1e6).toFixed(0)} MB into the engine` });
        const id = await o.engine.importImage(createReadStream(final), ref, changes);
        const img = await o.engine.image(ref);
        o.progress({ host: kind, step: 'image', status: 'done', detail: `${ref} (${(((img?.size ?? 0) as number) / 1e6).toFixed(0)} MB)` });
        return { kind, ref, id, bytes: img?.size ?? 0, content, cached: { rootfs: base.cached, image: false }, ms: performance.now() - k0, rootfsMs: base.ms };
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }),
  );
  return { arch, mirror: o.mirror, suite: o.suite, node: node?.spec ?? '', images, ms: performance.now() - t0 };
}

/** The engine to build into: --socket, else DOCKER_HOST, else the default socket (as the docker provider finds it). */
export async function engineFor(socket?: string): Promise<DockerEngine> {
  const m = await import('../providers/docker-engine.js');
  return new m.DockerEngine(m.engineTarget(socket));
}

/** How to use the images: the inventory's docker.images lines. */
export function usageLines(r: BuildResult): string[] {
  const by = new Map(r.images.map((i) => [i.kind, i.ref]));
  const lines = ['docker:', '  images:'];
  for (const k of ['broker', 'backend', 'node'] as const) if (by.has(k)) lines.push(`    ${k}: ${by.get(k)}`);
  lines.push('  mounts: []        # nothing from this machine: the images carry their programs (and the node image, lab)');
  return lines;
}
