/**
 * The user's modules of a workers host — its task modules (inventory `tasks:`) and its workers' settings module
 * (`config:`) — and where they are on the host:
 *
 * - local, netns: where they are on this machine (the hosts share its file system): by path.
 * - ssh, docker: shipped into `<work directory>/tasks/`, keeping their layout relative to the deepest folder that
 *   holds them all (so `tasks.js` importing `./helpers.js` works when both are listed), next to a
 *   `node_modules/lab` link to the lab that runs them — `import { App } from 'lab/queue'` in a shipped module loads
 *   the very copy of lab its worker runs. A `.lab-tasks` file there holds the digest of what was shipped: the same
 *   digest means the same files, and nothing is copied again.
 *
 * Only the listed files travel; a module that imports other files of the user's, or npm packages besides lab, needs
 * them listed too (or bundled into it).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, posix, relative, sep } from 'node:path';
import type { HostSpec } from '../topology/topology.js';

/** Folder of the shipped modules, inside the host's work directory. */
export const TASKS_DIR = 'tasks';
/** The digest of what was shipped, inside TASKS_DIR. */
export const TASKS_MARKER = '.lab-tasks';

export interface UserModule {
  /** Absolute path on this machine. */
  source: string;
  /** Path under TASKS_DIR on a host it is shipped to (posix, never `..`). */
  rel: string;
}

export interface HostModules {
  /** Task modules as paths on the host, in the inventory's order. */
  tasks: string[];
  /** The settings module as a path on the host. */
  config?: string;
}

/** The deepest folder holding every one of these absolute paths. */
export function commonFolder(paths: readonly string[]): string {
  const dirs = paths.map((s) => dirname(s).split(sep));
  let common = dirs[0] ?? [''];
  for (const d of dirs.slice(1)) {
    let i = 0;
    while (i < common.length && i < d.length && common[i] === d[i]) i++;
    common = common.slice(0, i);
  }
  return common.join(sep) || sep;
}

/** Every module of the host (tasks, then config), each once, with its place under TASKS_DIR. */
export function userModules(h: Readonly<HostSpec>): UserModule[] {
  const sources = [...new Set([...(h.tasks ?? []), ...(h.config ? [h.config] : [])])];
  const base = commonFolder(sources);
  return sources.map((source) => ({ source, rel: relative(base, source).split(sep).join('/') }));
}

/** The host's modules where they are on this machine (local, netns). */
export function modulesByPath(h: Readonly<HostSpec>): HostModules {
  return { tasks: [...(h.tasks ?? [])], ...(h.config ? { config: h.config } : {}) };
}

/** The host's modules where shipping puts them (ssh, docker): under `<workDir>/tasks/`. */
export function shippedModules(h: Readonly<HostSpec>, workDir: string): HostModules {
  const at = new Map(userModules(h).map((m) => [m.source, posix.join(workDir, TASKS_DIR, m.rel)]));
  return { tasks: (h.tasks ?? []).map((t) => at.get(t)!), ...(h.config ? { config: at.get(h.config)! } : {}) };
}

/** HostInfo's `modules`, for a host that has any (spread it in: hosts without modules do not get the key). */
export function modulesInfo(h: Readonly<HostSpec>, where: 'by-path' | { workDir: string }): { modules?: HostModules } {
  if (!h.tasks?.length && !h.config) return {};
  return { modules: where === 'by-path' ? modulesByPath(h) : shippedModules(h, where.workDir) };
}

/** sha256 (hex) of a file's bytes: what a worker reports for each module it loaded, and what lab expects. */
export async function fileDigest(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** A digest over the shipped set: each module's place and content. */
export async function modulesDigest(mods: readonly UserModule[]): Promise<string> {
  const h = createHash('sha256');
  for (const m of mods) h.update(`${m.rel}\0${await fileDigest(m.source)}\0`);
  return h.digest('hex');
}
