/**
 * Files on the lab's workers hosts, for scenarios that count what the workers did in a place that survives the
 * faults under test (the ledger scenario: an append-only file per workers host, in that host's work directory).
 * The controller reads them through the provider (any provider); the embedded lab's are on this machine.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenLab } from '../orchestrator/lab-ref.js';

export interface HostFiles {
  /** Workers host → a folder of its that its workers can write (the embedded lab: '*' → one folder here). */
  readonly dirs: Readonly<Record<string, string>>;
  /** A file's bytes ('' when it is not there yet). */
  read(host: string, path: string): Promise<Buffer>;
  /** Remove a file (best effort). */
  remove(host: string, path: string): Promise<void>;
}

/** The workers hosts' work directories, through the lab's provider. */
export function providerHostFiles(lab: OpenLab): HostFiles {
  const dirs = Object.fromEntries(lab.topology.roleHosts('workers').map((h) => [h.name, lab.provider.host(h.name).workDir]));
  return {
    dirs,
    read: (host, path) => lab.provider.readFile(host, path).catch(() => Buffer.alloc(0)),
    remove: async (host, path) => void (await lab.provider.exec(host, ['rm', '-f', path]).catch(() => undefined)),
  };
}

/** One folder on this machine for every worker (the embedded lab); `close` removes it. */
export async function localHostFiles(): Promise<HostFiles & { close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-files-'));
  return {
    dirs: { '*': dir },
    read: (_host, path) => readFile(path).catch(() => Buffer.alloc(0)),
    remove: (_host, path) => rm(path, { force: true }),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
