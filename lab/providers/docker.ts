/**
 * The docker provider: every host is a container on one user-defined bridge network, made through the Docker
 * Engine API (Docker, or Podman's Docker-compatible service) — dockerode, behind ./docker-engine.ts.
 *
 *   network    docker.network (default lab-<lab>)    bridge, the topology's subnet and gateway   (one per lab)
 *   host       container <lab>-<HOST>                hostname HOST, static address, ExtraHosts naming every host,
 *                                                    labels lab.name / lab.host / lab.state
 *              image: the host's `image`, else docker.images.broker | backend | node by its roles
 *              mounts: docker.mounts + the host's mounts (+ lab itself, read-only at /opt/lab, on node hosts)
 *              /var/lib/lab/<lab>/<HOST>             work directory (inside the container)
 *
 * Names, images and mounts: docker-layout.ts; the up steps: docker-up.ts. The container's main process is an idle
 * keep-alive that reaps orphans; the services are started inside it through the exec API by the same service code
 * as on every other provider. A spawned process is `setsid`-ed (its own process group) with its output appended to
 * its log file inside the container; its identity is the pid and start time read from /proc/<pid>/stat inside the
 * container, and every signal is sent by a script that checks both first (remote-scripts.ts, shared with ssh).
 * Files are written and read through exec (stdin / cat), so /etc/hosts — a bind mount the engine manages — is
 * rewritten in place, never replaced by rename.
 *
 * Users: a service that asks for a user (RabbitMQ: `rabbitmq`) runs as that user through `setpriv` when the
 * container knows it (the official rabbitmq image does; on an image made from an empty tarball, mount the host's
 * /etc/passwd and /etc/group), and as root — with a note in its log — when it does not.
 *
 * Everything is recorded in the ledger before it is created; containers and the network carry the lab's labels, and
 * `undo` removes only what carries them (containers with their anonymous volumes). Pulled images are not recorded:
 * they are the engine's cache, shared with everything else, and stay after `lab down`.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { InterruptedError, ProviderError, hasCode } from '../errors.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { ProcessCheck } from '../topology/proc.js';
import type { HostSpec, Topology } from '../topology/topology.js';
import { DockerContainers, oneLine } from './docker-containers.js';
import type { ExecOutcome, ExecRequest } from './docker-engine.js';
import { DockerLayout } from './docker-layout.js';
import { upDocker } from './docker-up.js';
import { hostsFile } from './hosts-file.js';
import { notFound } from './local-process.js';
import { DEFAULT_GRACE_MS, PROCESS_TOKEN_ENV } from './provider.js';
import type { ExecOptions, ExecResult, HostInfo, HostsEntry, PlanStep, ProcessRef, Provider, SpawnedData, SpawnOptions, StreamOptions, UpContext, UpOutcome } from './provider.js';
import { NOT_FOUND_PREFIX, PROC_SCRIPT, REWRITE_SCRIPT, SPAWN_SCRIPT, TOKEN_SCRIPT, parseCheck, parseSpawn, parseTokenLeft, signalName, tenths } from './remote-scripts.js';

/** Marks everything an exec started, so a timed-out or interrupted one can be signalled (TOKEN_SCRIPT). */
const EXEC_TOKEN_ENV = 'LAB_EXEC_TOKEN';

/** exec/stream: cd to the wanted folder if it exists here (else the work directory, else /), then become the command. */
const EXEC_SCRIPT = [
  '{ [ -n "$1" ] && cd -- "$1" 2>/dev/null; } || cd -- "$2" 2>/dev/null || cd /',
  'shift 2',
  `command -v "$1" >/dev/null 2>&1 || { echo "${NOT_FOUND_PREFIX}$1" >&2; exit 127; }`,
  'exec "$@"',
].join('\n');

/** <path> <mode or ''> <owner or ''>: stdin → the file, in place (truncate + write: bind mounts stay bind mounts). */
const WRITE_SCRIPT = [
  'p=$1; m=$2; o=$3',
  'umask 077',
  'cat > "$p" || exit 1',
  'if [ -n "$m" ]; then chmod "$m" "$p" || exit 1; fi',
  'if [ -n "$o" ]; then',
  '  ent=$(getent passwd "$o") || { echo "lab: no user $o in this container: $p stays root\'s" >&2; exit 0; }',
  '  IFS=: read -r _n _p uid gid _rest <<EOF',
  '$ent',
  'EOF',
  '  chown "$uid:$gid" "$p" || exit 1',
  'fi',
].join('\n');

function tok(): string {
  return randomBytes(12).toString('hex');
}

/** What `up` makes for a docker lab, in order (--dry-run). Reads nothing, changes nothing. */
export function dockerPlan(topology: Topology, stateDir: string): PlanStep[] {
  return new DockerLayout(topology, stateDir).plan();
}

export class DockerProvider implements Provider {
  readonly kind = 'docker' as const;
  private readonly layout: DockerLayout;
  private readonly containers: DockerContainers;

  constructor(
    readonly topology: Topology,
    stateDir: string,
    private readonly ledger: Ledger,
  ) {
    this.layout = new DockerLayout(topology, stateDir);
    this.containers = new DockerContainers(this.layout);
  }

  /** Container name of a host: <lab>-<HOST>. */
  containerName(host: string): string {
    return this.layout.containerName(host);
  }

  /** The image of a host: its own `image`, else the docker section's image for its roles. */
  imageOf(h: Readonly<HostSpec>): string {
    return this.layout.imageOf(h);
  }

  host(name: string): HostInfo {
    return this.layout.host(name);
  }

  plan(): PlanStep[] {
    return this.layout.plan();
  }

  async up(ctx: UpContext): Promise<UpOutcome> {
    const aborted = (): void => {
      if (ctx.signal?.aborted) throw new InterruptedError('lab up interrupted');
    };
    const changed = await upDocker({ layout: this.layout, containers: this.containers, ledger: this.ledger, progress: ctx.progress, aborted });
    return { changed };
  }

  // ---- running things in a container

  private sh(host: string, script: string, args: string[], extra: Omit<ExecRequest, 'argv'> = {}): Promise<ExecOutcome> {
    return this.containers.sh(host, script, args, extra);
  }

  /** Signal what an exec started (found by its token; its children carry the token too). */
  private async killExec(host: string, token: string, signal: string): Promise<void> {
    await this.sh(host, TOKEN_SCRIPT, [`${EXEC_TOKEN_ENV}=${token}`, 'signal', signal], { timeoutMs: 10_000 }).catch(() => undefined);
  }

  async exec(host: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.layout.spec(host);
    if (argv.length === 0) throw new ProviderError('exec: empty command', { host, code: 'E_USAGE' });
    const t0 = performance.now();
    const token = tok();
    const r = await this.sh(host, EXEC_SCRIPT, [options.cwd ?? '', this.layout.workDir(host), ...argv], {
      env: { ...(options.env ?? {}), [EXEC_TOKEN_ENV]: token },
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    let stderr = r.stderr.toString('utf8');
    if (r.timedOut) {
      await this.killExec(host, token, 'KILL');
      stderr += `\n(killed after ${options.timeoutMs} ms)`;
    }
    if (r.exitCode === 127 && stderr.startsWith(`${NOT_FOUND_PREFIX}${argv[0]}\n`)) throw notFound(argv[0]!, host);
    return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr, durationMs: performance.now() - t0 };
  }

  async stream(host: string, argv: string[], options: StreamOptions): Promise<number> {
    this.layout.spec(host);
    if (argv.length === 0) throw new ProviderError('exec: empty command', { host, code: 'E_USAGE' });
    const token = tok();
    let interrupted = false;
    const onAbort = (): void => {
      interrupted = true;
      void this.killExec(host, token, 'INT');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await this.sh(host, EXEC_SCRIPT, [options.cwd ?? '', this.layout.workDir(host), ...argv], {
        env: { ...(options.env ?? {}), [EXEC_TOKEN_ENV]: token },
        stdout: options.stdout,
        stderr: options.stderr,
        ...(options.input !== undefined ? { input: options.input } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
      if (r.timedOut) await this.killExec(host, token, 'KILL');
      return r.exitCode < 0 && interrupted ? 130 : r.exitCode;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef> {
    const spec = this.layout.spec(host);
    if (argv.length === 0) throw new ProviderError('spawn: empty command', { host, code: 'E_USAGE' });
    const engine = await this.containers.engine();
    const container = await engine.container(this.layout.containerName(host), host);
    if (!container?.running) throw await this.containers.down(host);
    const token = tok();
    const data: SpawnedData & { container: string } = { ...options.ledgerData, host: spec.name, command: argv, logFile: options.logFile, token, container: container.id };
    const entry = await this.ledger.record('process', options.key, data);
    // The exec's environment carries the token, so every process from the first fork on has it.
    const r = await this.sh(host, SPAWN_SCRIPT, [options.logFile, options.user ?? '', options.cwd ?? '', ...argv], {
      env: { ...(options.env ?? {}), [PROCESS_TOKEN_ENV]: token },
      timeoutMs: 30_000,
    });
    const err = r.stderr.toString('utf8');
    if (r.exitCode === 127 && err.startsWith(NOT_FOUND_PREFIX)) throw notFound(argv[0]!, spec.name);
    if (r.exitCode !== 0) throw new ProviderError(`cannot start ${argv.join(' ')}: ${oneLine(err) || `exit code ${r.exitCode}`}`, { host: spec.name, code: 'E_SPAWN' });
    const { pid, stat } = parseSpawn(r.stdout.toString('utf8'));
    if (!Number.isInteger(pid) || !stat || stat.pid !== pid || stat.state === 'Z') {
      const tail = (await this.readFile(host, options.logFile, { tailBytes: 2000 })).toString('utf8');
      throw new ProviderError(`${argv.join(' ')} exited at once${tail ? `:\n${tail}` : ''}`, { host: spec.name, code: 'E_PROCESS_EXITED' });
    }
    await this.ledger.markDone(entry, { pid, startTime: stat.startTime });
    return { key: options.key, host: spec.name, pid, startTime: stat.startTime, logFile: options.logFile, command: argv };
  }

  private async proc(ref: ProcessRef, op: 'check' | 'signal' | 'stop', arg: string, timeoutMs: number): Promise<ProcessCheck> {
    let r: ExecOutcome;
    try {
      r = await this.sh(ref.host, PROC_SCRIPT, [op, String(ref.pid), String(ref.startTime), arg], { timeoutMs });
    } catch (err) {
      if (hasCode(err, 'E_CONTAINER_EXITED', 'E_CONTAINER_GONE')) return 'gone'; // its processes went with it
      throw err;
    }
    const verdict = parseCheck(r.stdout.toString('utf8'));
    if (r.exitCode === 0 && verdict) return verdict;
    throw new ProviderError(`checking process ${ref.pid} (${ref.command.join(' ')}) failed: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host: ref.host, code: 'E_SIGNAL' });
  }

  signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    const name = signalName(signal);
    if (!name) throw new ProviderError(`not a signal name: ${signal}`, { host: ref.host, code: 'E_USAGE' });
    return this.proc(ref, 'signal', name, 10_000);
  }

  stop(ref: ProcessRef, graceMs = DEFAULT_GRACE_MS): Promise<ProcessCheck> {
    return this.proc(ref, 'stop', tenths(graceMs), graceMs + 10_000);
  }

  async alive(ref: ProcessRef): Promise<boolean> {
    return (await this.proc(ref, 'check', '', 10_000)) === 'same';
  }

  // ---- files (inside the container)

  async writeFile(host: string, path: string, content: string | Buffer, options: { mode?: number; owner?: string } = {}): Promise<void> {
    this.layout.spec(host);
    const r = await this.sh(host, WRITE_SCRIPT, [path, options.mode === undefined ? '' : options.mode.toString(8), options.owner ?? ''], { input: content, timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new ProviderError(`cannot write ${path}: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host, code: 'E_WRITE' });
  }

  async readFile(host: string, path: string, options: { tailBytes?: number } = {}): Promise<Buffer> {
    this.layout.spec(host);
    const tail = options.tailBytes;
    const argv = tail !== undefined ? ['tail', '-c', String(Math.max(0, Math.floor(tail))), '--', path] : ['cat', '--', path];
    let r: ExecOutcome;
    try {
      r = await this.containers.run(host, { argv, timeoutMs: 60_000 });
    } catch (err) {
      if (!hasCode(err, 'E_CONTAINER_EXITED')) throw err;
      // a stopped container still has its files: read them through the archive API
      const engine = await this.containers.engine();
      let whole: Buffer;
      try {
        whole = await engine.readFileArchive(this.layout.containerName(host), path, host);
      } catch {
        if (tail !== undefined) return Buffer.alloc(0);
        throw err;
      }
      return tail !== undefined ? Buffer.from(whole.subarray(Math.max(0, whole.length - tail)).toString('utf8').trimEnd()) : whole;
    }
    if (tail !== undefined) return r.exitCode === 0 ? Buffer.from(r.stdout.toString('utf8').trimEnd()) : Buffer.alloc(0);
    if (r.exitCode !== 0) throw new ProviderError(`cannot read ${path}: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host, code: 'E_READ' });
    return r.stdout;
  }

  /**
   * Rewrite the container's /etc/hosts in place (the engine bind-mounts it: a rename would fail or detach it):
   * localhost, then every entry; the host's own name never maps to a loopback address.
   */
  async writeHosts(host: string, entries: HostsEntry[]): Promise<void> {
    const spec = this.layout.spec(host);
    let content: string;
    try {
      content = hostsFile(spec.name, entries);
    } catch (err) {
      if (!hasCode(err, 'E_HOSTS_FILE')) throw err;
      throw new ProviderError(`hosts file: ${err.message}`, { host, code: 'E_CONFIG' });
    }
    const r = await this.sh(host, REWRITE_SCRIPT, ['/etc/hosts', ''], { input: content, timeoutMs: 30_000 });
    if (r.exitCode !== 0) throw new ProviderError(`cannot rewrite /etc/hosts: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host, code: 'E_WRITE' });
  }

  // ---- down

  async undo(entry: LedgerEntry): Promise<void> {
    const d = entry.data as { host?: unknown; name?: unknown; id?: unknown };
    const host = typeof d.host === 'string' ? d.host : undefined;
    switch (entry.kind) {
      case 'process':
        return this.undoProcess(entry, host);
      case 'container': {
        const engine = await this.containers.engine();
        const ref = typeof d.id === 'string' && d.id !== '' ? d.id : String(d.name ?? '');
        if (ref === '') throw new ProviderError(`undo ${entry.key}: no container name or id recorded`, { host, code: 'E_UNDO_UNKNOWN' });
        const info = await engine.container(ref, host);
        if (!info) return; // already gone
        if (!this.layout.ours(info.labels)) return; // the name now belongs to someone else's container: ours is gone
        await engine.removeContainer(info.id, host);
        return;
      }
      case 'network': {
        const engine = await this.containers.engine();
        const ref = typeof d.id === 'string' && d.id !== '' ? d.id : String(d.name ?? '');
        if (ref === '') throw new ProviderError(`undo ${entry.key}: no network name or id recorded`, { code: 'E_UNDO_UNKNOWN' });
        const info = await engine.network(ref);
        if (!info || !this.layout.ours(info.labels)) return;
        try {
          await engine.removeNetwork(info.id);
        } catch (err) {
          throw new ProviderError(`cannot remove network ${info.name}: ${err instanceof Error ? err.message : String(err)} (containers that lab did not create still use it?)`, { host: `lab ${this.topology.name}`, cause: err });
        }
        return;
      }
      default:
        throw new ProviderError(`the docker provider did not create ${entry.kind} ${entry.key}`, { host, code: 'E_UNDO_UNKNOWN' });
    }
  }

  /** Stop a recorded process by pid + start time (its group), then anything still carrying its token; a gone container took it along. */
  private async undoProcess(entry: LedgerEntry, host: string | undefined): Promise<void> {
    const d = entry.data as Partial<SpawnedData> & { container?: string };
    const graceMs = d.graceMs ?? DEFAULT_GRACE_MS;
    if (!host || !this.topology.host(host)) return;
    const engine = await this.containers.engine();
    const info = await engine.container(this.layout.containerName(host), host);
    if (!info || !info.running || (d.container && info.id !== d.container)) return;
    const known = typeof d.pid === 'number' && typeof d.startTime === 'number';
    if (known) {
      const ref: ProcessRef = { key: entry.key, host, pid: d.pid!, startTime: d.startTime!, logFile: d.logFile ?? '', command: d.command ?? [] };
      if ((await this.stop(ref, graceMs)) === 'same') throw new ProviderError(`process ${d.pid} (${(d.command ?? []).join(' ')}) did not stop`, { host, code: 'E_STOP' });
    }
    if (!d.token) return;
    // a process whose pid never reached the ledger gets the full grace; group members that outlived the leader a short one
    const grace = known ? 2000 : graceMs;
    const r = await this.sh(host, TOKEN_SCRIPT, [`${PROCESS_TOKEN_ENV}=${d.token}`, 'stop', tenths(grace)], { timeoutMs: grace + 15_000 });
    const left = parseTokenLeft(r.stdout.toString('utf8'));
    if (r.exitCode !== 0 || left.length > 0) {
      throw new ProviderError(`stopping the processes of ${entry.key} failed: ${left.length > 0 ? `${left.join(', ')} still running` : oneLine(r.stderr.toString('utf8'))}`, { host, code: 'E_STOP' });
    }
  }

  async close(): Promise<void> {}
}
