/**
 * The local provider: every host is this machine. Services run as child processes on the inventory's ports
 * under the lab's state directory; no root needed, nothing touches /etc/hosts (the lab's URLs use addresses).
 */
import { mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ProviderError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { ProcessCheck } from '../topology/proc.js';
import type { Topology } from '../topology/topology.js';
import { aliveLocal, signalLocal, stopLocal, execLocal, spawnRecorded, streamLocal, tailFile, undoProcess } from './local-process.js';
import { modulesInfo } from './user-modules.js';
import type { ExecOptions, ExecResult, HostInfo, PlanStep, ProcessRef, Provider, SpawnOptions, StreamOptions, UpContext, UpOutcome } from './provider.js';

/** Where a host of a local lab works: under the lab's state directory. */
function workDirOf(stateDir: string, host: string): string {
  return join(stateDir, 'hosts', host);
}

/** What `up` makes for a local lab (--dry-run). */
export function localPlan(topology: Topology, stateDir: string): PlanStep[] {
  return topology.hosts.map((h) => ({ host: h.name, step: 'directory', detail: `${workDirOf(stateDir, h.name)} (this machine, ${h.address})` }));
}

export class LocalProvider implements Provider {
  readonly kind = 'local' as const;
  readonly localFiles = true;

  constructor(
    readonly topology: Topology,
    private readonly stateDir: string,
    private readonly ledger: Ledger,
  ) {}

  plan(): PlanStep[] {
    return localPlan(this.topology, this.stateDir);
  }

  private workDir(host: string): string {
    return workDirOf(this.stateDir, host);
  }

  private spec(name: string): Topology['hosts'][number] {
    const h = this.topology.host(name);
    if (!h) throw new ProviderError(`no host ${name} in lab ${this.topology.name}`, { host: name, code: 'E_NO_HOST' });
    return h;
  }

  host(name: string): HostInfo {
    const h = this.spec(name);
    return { name: h.name, address: h.address, workDir: this.workDir(h.name), labRoot: PACKAGE_ROOT, node: process.execPath, supervisor: 'lab', ...modulesInfo(h, 'by-path') };
  }

  async up(ctx: UpContext): Promise<UpOutcome> {
    let changed = false;
    for (const h of this.topology.hosts) {
      const key = `dir:${h.name}`;
      const dir = this.workDir(h.name);
      if (this.ledger.get(key)?.state === 'done') {
        ctx.progress({ host: h.name, step: 'work directory', status: 'skip', detail: dir });
        continue;
      }
      ctx.progress({ host: h.name, step: 'work directory', status: 'start', detail: dir });
      await this.ledger.record('directory', key, { host: h.name, path: dir });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await this.ledger.markDone(key);
      changed = true;
      ctx.progress({ host: h.name, step: 'work directory', status: 'done', detail: dir });
    }
    return { changed };
  }

  exec(host: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.spec(host);
    return execLocal(host, argv, options);
  }

  stream(host: string, argv: string[], options: StreamOptions): Promise<number> {
    this.spec(host);
    return streamLocal(host, argv, options);
  }

  async writeFile(host: string, path: string, content: string | Buffer, options: { mode?: number } = {}): Promise<void> {
    this.spec(host);
    await writeFile(path, content, { mode: options.mode ?? 0o600 });
    if (options.mode !== undefined) await chmod(path, options.mode);
  }

  async readFile(host: string, path: string, options: { tailBytes?: number } = {}): Promise<Buffer> {
    this.spec(host);
    if (options.tailBytes !== undefined) return Buffer.from(await tailFile(path, options.tailBytes));
    return readFile(path);
  }

  async writeHosts(): Promise<void> {
    // Every host is this machine: the lab's URLs use addresses; /etc/hosts is not ours to edit without root.
  }

  async spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef> {
    this.spec(host);
    return spawnRecorded(this.ledger, { key: options.key, host, argv, command: argv, logFile: options.logFile, env: options.env, cwd: options.cwd, data: options.ledgerData });
  }

  signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    return signalLocal(ref, signal);
  }

  stop(ref: ProcessRef, graceMs?: number): Promise<ProcessCheck> {
    return stopLocal(ref, graceMs);
  }

  alive(ref: ProcessRef): Promise<boolean> {
    return aliveLocal(ref);
  }

  async undo(entry: LedgerEntry): Promise<void> {
    switch (entry.kind) {
      case 'process':
        return undoProcess(entry);
      case 'directory':
      case 'file':
        await rm(String((entry.data as { path: string }).path), { recursive: true, force: true });
        return;
      default:
        throw new ProviderError(`the local provider did not create ${entry.kind} ${entry.key}`, { code: 'E_UNDO_UNKNOWN' });
    }
  }

  async close(): Promise<void> {}
}
