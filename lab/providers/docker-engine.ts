/**
 * The Docker Engine API (Docker, or Podman's Docker-compatible service) behind the few semantic operations the
 * docker provider needs: images, one bridge network, containers, exec, logs, files. The only module that imports
 * dockerode; nothing it returns carries a dockerode type.
 *
 * Errors are ProviderErrors (EngineError): an engine that cannot be reached names the socket (or DOCKER_HOST) it
 * tried; an API error names the operation and the engine's own message.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { ProviderError } from '../errors.js';
import type { LabErrorCode } from '../errors.js';

// ---- where the engine is

export interface EngineTarget {
  /** How to name the engine in messages: unix:///var/run/docker.sock, tcp://host:2375… */
  describe: string;
  /** The Unix socket, when the engine is reached through one. */
  socketPath?: string;
  /** The engine runs on this machine (a Unix socket): bind-mount sources are this machine's paths. */
  local: boolean;
}

/**
 * The engine to talk to: the inventory's `docker.socket`, else $DOCKER_HOST (unix://… or tcp://…, with
 * DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the docker CLI reads them), else ~/.docker/run/docker.sock when it
 * exists (Docker Desktop), else /var/run/docker.sock.
 */
export function engineTarget(socket: string | undefined, env: NodeJS.ProcessEnv = process.env): EngineTarget {
  if (socket) return { describe: `unix://${socket}`, socketPath: socket, local: true };
  const dh = env.DOCKER_HOST?.trim();
  if (dh) {
    if (dh.startsWith('unix://') && dh.length > 'unix://'.length) return { describe: dh, socketPath: dh.slice('unix://'.length), local: true };
    return { describe: `DOCKER_HOST=${dh}`, local: false };
  }
  const user = join(homedir(), '.docker', 'run', 'docker.sock');
  const path = existsSync(user) ? user : '/var/run/docker.sock';
  return { describe: `unix://${path}`, socketPath: path, local: true };
}

// ---- errors

export class EngineError extends ProviderError {
  /** HTTP status of the API answer (404 not found, 409 conflict…), when there was one. */
  readonly status?: number;

  constructor(message: string, options: { host?: string; cause?: unknown; code?: LabErrorCode; status?: number } = {}) {
    super(message, options);
    this.status = options.status;
  }
}

const CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ENOTSOCK']);

interface DockerodeError extends Error {
  statusCode?: number;
  code?: string;
  reason?: string;
  json?: { message?: string } | null;
}

/** The engine's own words for an API error ("no such container - …"), on one line. */
function engineMessage(err: DockerodeError): string {
  const m = (err.json && typeof err.json === 'object' && typeof err.json.message === 'string' ? err.json.message : err.message).trim();
  return m.replace(/^\(HTTP code \d+\)\s*/, '').replace(/\s*\n\s*/g, '; ');
}

// ---- what the provider sees

export interface ImageInfo {
  id: string;
  entrypoint: string[];
  cmd: string[];
  /** The image's labels (lab images build sets lab.role, lab.bundle, lab.content). */
  labels: Record<string, string>;
  /** Bytes, as the engine counts them. */
  size: number;
  /** GOARCH of the image (amd64, arm64…), when the engine says. */
  arch?: string;
}

export interface NetworkInfo {
  id: string;
  name: string;
  subnets: { subnet: string; gateway?: string }[];
  labels: Record<string, string>;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  running: boolean;
  /** created, running, exited, paused… */
  status: string;
  exitCode: number;
  /** The engine's error for a container that failed to start. */
  error: string;
  oomKilled: boolean;
  labels: Record<string, string>;
  /** network name → IPv4 address */
  addresses: Record<string, string>;
}

export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerSpec {
  name: string;
  hostname: string;
  image: string;
  /** Arguments for the image's entrypoint (or the command when it has none). */
  cmd: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  mounts: BindMount[];
  /** name → address, written to the container's /etc/hosts by the engine. */
  extraHosts: { name: string; address: string }[];
  network: string;
  address: string;
  aliases: string[];
  /** Linux capabilities beyond the engine's default set (NET_ADMIN: iptables in the container's own namespace). */
  capAdd?: string[];
}

export interface ExecRequest {
  argv: string[];
  env?: Record<string, string>;
  input?: string | Buffer;
  user?: string;
  workingDir?: string;
  /** Stream the output there instead of collecting it. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Stop waiting after this long (the caller kills what still runs); the outcome has timedOut set. */
  timeoutMs?: number;
}

export interface ExecOutcome {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export interface PullProgress {
  /** e.g. "downloading 48.1/120.5 MB (7 layers)" */
  text: string;
}

/** Split Docker's multiplexed stream format (8-byte frame headers) into stdout and stderr; raw text otherwise. */
export function demux(buf: Buffer): { stdout: Buffer; stderr: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i]!;
    if (kind > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) return { stdout: buf, stderr: Buffer.alloc(0) };
    const len = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + len);
    (kind === 2 ? err : out).push(chunk);
    i += 8 + len;
  }
  if (i === 0 && buf.length > 0) return { stdout: buf, stderr: Buffer.alloc(0) };
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}

/** The first regular file of a tar archive (what GET /containers/{id}/archive returns for a file). */
export function firstTarFile(tar: Buffer): Buffer | null {
  let off = 0;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) return null;
    const sizeText = header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim();
    const size = sizeText === '' ? 0 : parseInt(sizeText, 8);
    const type = header[156]!;
    const body = off + 512;
    // '0' or NUL: a regular file; anything else (pax 'x'/'g', GNU long name 'L', directories) is skipped
    if (type === 0x30 || type === 0) return tar.subarray(body, body + size);
    off = body + Math.ceil(size / 512) * 512;
  }
  return null;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

function fmtMB(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

export class DockerEngine {
  private readonly docker: Docker;

  constructor(readonly target: EngineTarget) {
    this.docker = target.socketPath ? new Docker({ socketPath: target.socketPath }) : new Docker();
  }

  /** Turn a dockerode/HTTP error into an EngineError naming what was being done and where. */
  private fail(what: string, err: unknown, host?: string): EngineError {
    if (err instanceof EngineError) return err;
    const e = err as DockerodeError;
    if (e && typeof e.statusCode !== 'number' && e.code && CONNECT_CODES.has(e.code)) {
      const why =
        e.code === 'ENOENT'
          ? 'no socket there — is Docker running (or `podman system service`)? Point DOCKER_HOST or docker.socket in the inventory at the engine'
          : e.code === 'EACCES' || e.code === 'EPERM'
            ? 'permission denied — join the docker group or run as root'
            : e.code === 'ECONNREFUSED'
              ? 'connection refused — is the engine running?'
              : e.message;
      return new EngineError(`${what}: cannot reach the Docker Engine API at ${this.target.describe} (${e.code}): ${why}`, { host, cause: err, code: 'E_ENGINE_UNREACHABLE' });
    }
    const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
    const msg = e instanceof Error ? engineMessage(e) : String(err);
    const notRunning = status === 409 || /is not running|state improper|container .* is paused|is restarting/i.test(msg);
    const code = status === 404 ? 'E_ENGINE_NOT_FOUND' : notRunning && /exec/i.test(what) ? 'E_CONTAINER_NOT_RUNNING' : 'E_ENGINE';
    return new EngineError(`${what}: ${msg}${status ? ` (engine: HTTP ${status})` : ''}`, { host, cause: err, code, status });
  }

  private async call<T>(what: string, fn: () => Promise<T>, host?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.fail(what, err, host);
    }
  }

  /** Null for 404, else the value; other errors throw. */
  private async orNull<T>(what: string, fn: () => Promise<T>, host?: string): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      const e = this.fail(what, err, host);
      if (e.status === 404) return null;
      throw e;
    }
  }

  /** Which engine answers (Docker / Podman and its version). Throws E_ENGINE_UNREACHABLE when none does. */
  async version(): Promise<{ engine: string; version: string; api: string; arch: string }> {
    const v = await this.call('connect to the engine', () => this.docker.version());
    const comps = (v as unknown as { Components?: { Name: string; Version: string }[] }).Components ?? [];
    const podman = comps.find((c) => /podman/i.test(c.Name));
    return { engine: podman ? 'Podman' : 'Docker', version: podman?.Version ?? v.Version, api: v.ApiVersion, arch: v.Arch };
  }

  // ---- images

  async image(ref: string): Promise<ImageInfo | null> {
    const i = await this.orNull(`image ${ref}`, () => this.docker.getImage(ref).inspect());
    if (!i) return null;
    const labels = (i.Config?.Labels ?? {}) as Record<string, string>;
    return { id: i.Id, entrypoint: toList(i.Config?.Entrypoint), cmd: toList(i.Config?.Cmd), labels, size: i.Size, ...(i.Architecture ? { arch: i.Architecture } : {}) };
  }

  /**
   * Import a root filesystem tarball as an image (POST /images/create?fromSrc=-, as `docker import`) with Dockerfile
   * `changes` (LABEL, ENV…), then tag it `ref`: imported untagged first, because engines differ in how they read a
   * repository and tag on import. Resolves with the image id.
   */
  async importImage(tar: NodeJS.ReadableStream, ref: string, changes: string[]): Promise<string> {
    const out = await this.call(`import ${ref}`, async () => collect(await this.docker.importImage(tar, { changes } as object)));
    const text = out.toString('utf8');
    const err = /"error(?:Detail)?"\s*:\s*(?:\{\s*"message"\s*:\s*)?"([^"]+)"/.exec(text)?.[1];
    if (err) throw new EngineError(`import ${ref}: ${err}`, { code: 'E_IMAGE_BUILD' });
    const id = /sha256:[0-9a-f]{64}/.exec(text)?.[0] ?? /"status"\s*:\s*"([0-9a-f]{64})"/.exec(text)?.[1];
    if (!id) throw new EngineError(`import ${ref}: the engine answered ${text.trim().slice(0, 200)} without an image id`, { code: 'E_IMAGE_BUILD' });
    const colon = ref.lastIndexOf(':');
    const [repo, tag] = colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
    await this.call(`tag ${id.slice(0, 19)} as ${ref}`, () => this.docker.getImage(id).tag({ repo, tag }));
    return id;
  }

  /** Pull an image, reporting progress at most once a second; the engine's error (no registry…) as an EngineError. */
  async pull(ref: string, onProgress: (p: PullProgress) => void): Promise<void> {
    const stream = await this.call(`pull ${ref}`, () => this.docker.pull(ref) as Promise<NodeJS.ReadableStream>);
    const layers = new Map<string, { current: number; total: number }>();
    let last = 0;
    let error: string | null = null;
    let buf = '';
    const line = (text: string): void => {
      if (text.trim() === '') return;
      let ev: { status?: string; id?: string; error?: string; errorDetail?: { message?: string }; progressDetail?: { current?: number; total?: number } };
      try {
        ev = JSON.parse(text) as typeof ev;
      } catch {
        return;
      }
      if (ev.error || ev.errorDetail?.message) {
        error = ev.errorDetail?.message ?? ev.error ?? 'unknown error';
        return;
      }
      if (ev.id && ev.progressDetail?.total) layers.set(ev.id, { current: ev.progressDetail.current ?? 0, total: ev.progressDetail.total });
      const now = Date.now();
      if (now - last >= 1000) {
        last = now;
        const cur = [...layers.values()].reduce((n, l) => n + l.current, 0);
        const tot = [...layers.values()].reduce((n, l) => n + l.total, 0);
        onProgress({ text: tot > 0 ? `${ev.status ?? 'pulling'}: ${fmtMB(cur)}/${fmtMB(tot)} MB (${layers.size} layer${layers.size === 1 ? '' : 's'})` : (ev.status ?? 'pulling') });
      }
    };
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer | string) => {
        buf += c.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          line(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
      stream.once('end', () => resolve());
      stream.once('error', (err: Error) => reject(this.fail(`pull ${ref}`, err)));
    });
    line(buf);
    if (error !== null) throw new EngineError(`pull ${ref}: ${String(error).replace(/\s*\n\s*/g, '; ')}`, { code: 'E_PULL' });
    if (!(await this.image(ref))) throw new EngineError(`pull ${ref}: the engine reported no error, but the image is not there`, { code: 'E_PULL' });
  }

  // ---- networks

  async network(name: string): Promise<NetworkInfo | null> {
    const n = await this.orNull(`network ${name}`, async () => (await this.docker.getNetwork(name).inspect()) as unknown as Record<string, unknown>);
    if (!n) return null;
    const ipam = (n.IPAM as { Config?: { Subnet?: string; Gateway?: string }[] } | undefined)?.Config ?? [];
    return {
      id: String(n.Id ?? n.ID ?? name),
      name: String(n.Name ?? name),
      subnets: ipam.filter((c) => c.Subnet).map((c) => ({ subnet: c.Subnet!, ...(c.Gateway ? { gateway: c.Gateway } : {}) })),
      labels: (n.Labels as Record<string, string> | null) ?? {},
    };
  }

  /** Create a bridge network; a subnet another network or interface already has is E_SUBNET_IN_USE. */
  async createNetwork(o: { name: string; subnet: string; gateway: string; labels: Record<string, string> }): Promise<string> {
    const what = `create network ${o.name} (${o.subnet})`;
    try {
      const n = await this.docker.createNetwork({ Name: o.name, Driver: 'bridge', CheckDuplicate: true, Labels: o.labels, IPAM: { Driver: 'default', Config: [{ Subnet: o.subnet, Gateway: o.gateway }] } });
      return n.id;
    } catch (err) {
      const e = this.fail(what, err);
      // engines say it in words only: "overlaps with", "is already used", "pool … in use", "conflict"
      if (e.code === 'E_ENGINE' && /overlap|in use|already|conflict/i.test(e.message)) throw new EngineError(e.message, { cause: err, code: 'E_SUBNET_IN_USE', status: e.status });
      throw e;
    }
  }

  async removeNetwork(idOrName: string): Promise<'removed' | 'gone'> {
    const r = await this.orNull(`remove network ${idOrName}`, () => this.docker.getNetwork(idOrName).remove());
    return r === null ? 'gone' : 'removed';
  }

  // ---- containers

  async container(idOrName: string, host?: string): Promise<ContainerInfo | null> {
    const c = await this.orNull(`container ${idOrName}`, () => this.docker.getContainer(idOrName).inspect(), host);
    if (!c) return null;
    const nets = (c.NetworkSettings?.Networks ?? {}) as Record<string, { IPAddress?: string }>;
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      image: c.Config?.Image ?? '',
      running: c.State?.Running === true,
      status: c.State?.Status ?? 'unknown',
      exitCode: c.State?.ExitCode ?? 0,
      error: c.State?.Error ?? '',
      oomKilled: c.State?.OOMKilled === true,
      labels: c.Config?.Labels ?? {},
      addresses: Object.fromEntries(Object.entries(nets).map(([k, v]) => [k, v.IPAddress ?? ''])),
    };
  }

  /** Every container (running or not) carrying the label `key=value`. */
  async containersLabelled(label: string): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
    const list = await this.call(`list containers labelled ${label}`, () => this.docker.listContainers({ all: true, filters: { label: [label] } }));
    return list.map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? c.Id).replace(/^\//, ''), labels: c.Labels ?? {} }));
  }

  /** Every network carrying the label `key=value`. */
  async networksLabelled(label: string): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
    const list = await this.call(`list networks labelled ${label}`, () => this.docker.listNetworks({ filters: { label: [label] } }));
    return list.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
  }

  async createContainer(s: ContainerSpec, host?: string): Promise<string> {
    const c = await this.call(
      `create container ${s.name} (image ${s.image})`,
      () =>
        this.docker.createContainer({
          name: s.name,
          Hostname: s.hostname,
          Image: s.image,
          Cmd: s.cmd,
          Env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
          Labels: s.labels,
          Tty: false,
          OpenStdin: false,
          HostConfig: {
            NetworkMode: s.network,
            Mounts: s.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
            ExtraHosts: s.extraHosts.map((e) => `${e.name}:${e.address}`),
            RestartPolicy: { Name: '' },
            ...(s.capAdd && s.capAdd.length > 0 ? { CapAdd: s.capAdd } : {}),
          },
          NetworkingConfig: { EndpointsConfig: { [s.network]: { IPAMConfig: { IPv4Address: s.address }, Aliases: s.aliases } } },
        }),
      host,
    );
    return c.id;
  }

  async startContainer(id: string, host?: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if ((err as DockerodeError).statusCode === 304) return; // already running
      throw this.fail(`start container ${id.slice(0, 12)}`, err, host);
    }
  }

  /** Remove a container, running or not, with its anonymous volumes. */
  async removeContainer(id: string, host?: string): Promise<'removed' | 'gone'> {
    const r = await this.orNull(`remove container ${id}`, () => this.docker.getContainer(id).remove({ force: true, v: true }), host);
    return r === null ? 'gone' : 'removed';
  }

  /** The last lines of a container's own output (its main process), stdout and stderr interleaved as text. */
  async logs(id: string, lines: number, host?: string): Promise<string> {
    const buf = await this.call(`logs of ${id.slice(0, 12)}`, () => this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false }), host);
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf));
    const { stdout, stderr } = demux(b);
    return Buffer.concat([stdout, stderr]).toString('utf8').trimEnd();
  }

  /** Run a command in a running container; resolves with its exit code (a non-zero exit is a result, not an error). */
  async exec(id: string, r: ExecRequest, host?: string): Promise<ExecOutcome> {
    const what = `exec ${r.argv[0] ?? ''}`;
    const hasInput = r.input !== undefined;
    const exec = await this.call(
      what,
      () =>
        this.docker.getContainer(id).exec({
          Cmd: r.argv,
          Env: r.env ? Object.entries(r.env).map(([k, v]) => `${k}=${v}`) : undefined,
          AttachStdin: hasInput,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          ...(r.user ? { User: r.user } : {}),
          ...(r.workingDir ? { WorkingDir: r.workingDir } : {}),
        }),
      host,
    );
    const stream = await this.call(what, () => exec.start({ hijack: true, stdin: hasInput }) as Promise<NodeJS.ReadWriteStream & { destroy(): void }>, host);
    const outChunks: Buffer[] = [];
    const errChunks: Buffer[] = [];
    const out = r.stdout ?? new PassThrough().on('data', (c: Buffer) => outChunks.push(c));
    const err = r.stderr ?? new PassThrough().on('data', (c: Buffer) => errChunks.push(c));
    this.docker.modem.demuxStream(stream, out, err);
    let timedOut = false;
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', (e: NodeJS.ErrnoException) => {
        // a command that exits without reading all its input closes the connection under our write: not an error
        if (hasInput && (e.code === 'EPIPE' || e.code === 'ECONNRESET')) return done();
        if (timer) clearTimeout(timer);
        reject(this.fail(what, e, host));
      });
      if (r.timeoutMs) {
        timer = setTimeout(() => {
          timedOut = true;
          stream.destroy();
          resolve();
        }, r.timeoutMs);
      }
      if (hasInput) {
        stream.write(typeof r.input === 'string' ? Buffer.from(r.input) : r.input!);
        stream.end();
      }
    });
    if (timedOut) return { exitCode: 137, stdout: Buffer.concat(outChunks), stderr: Buffer.concat(errChunks), timedOut };
    // the output ends a moment before the engine has the exit code
    let exitCode: number | null = null;
    for (let i = 0; i < 50; i++) {
      const info = await this.call(what, () => exec.inspect(), host);
      if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) {
        exitCode = info.ExitCode;
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    return { exitCode: exitCode ?? -1, stdout: Buffer.concat(outChunks), stderr: Buffer.concat(errChunks), timedOut };
  }

  /** A file's content through the archive API (works on a stopped container too). */
  async readFileArchive(id: string, path: string, host?: string): Promise<Buffer> {
    const tar = await this.call(`read ${path}`, async () => collect(await this.docker.getContainer(id).getArchive({ path })), host);
    const file = firstTarFile(tar);
    if (!file) throw new EngineError(`read ${path}: not a regular file`, { host, code: 'E_ENGINE' });
    return file;
  }

  /** Extract a tar stream into a folder of the container (which must exist). */
  async putArchive(id: string, dir: string, tar: NodeJS.ReadableStream, host?: string): Promise<void> {
    await this.call(`copy into ${dir}`, async () => {
      const r = await this.docker.getContainer(id).putArchive(tar, { path: dir });
      if (r && typeof (r as NodeJS.ReadableStream).on === 'function') await collect(r as NodeJS.ReadableStream);
    }, host);
  }

}

function toList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string' && v !== '') return [v];
  return [];
}
