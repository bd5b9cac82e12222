/**
 * Which inventory `lab up` reads: --hosts FILE if given; else the active lab's (a re-up: its state records the
 * inventory it came from); else ./hosts.yaml if there is one (what `lab init` writes); else a usage error that
 * names `lab init`.
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { activeLab, labHome, readState, stateDir } from '../topology/state.js';
import { DEFAULT_INVENTORY } from './init-inventory.js';

export interface UpInventory {
  file: string;
  /** flag: --hosts · active-lab: the active lab's own inventory · cwd: ./hosts.yaml */
  source: 'flag' | 'active-lab' | 'cwd';
  /** The active lab's name, for source 'active-lab'. */
  lab?: string;
}

const exists = (file: string): Promise<boolean> => access(file).then(
  () => true,
  () => false,
);

export async function resolveUpInventory(hosts: string | undefined, options: { cwd?: string; home?: string } = {}): Promise<UpInventory> {
  const cwd = options.cwd ?? process.cwd();
  if (hosts) return { file: resolve(cwd, hosts), source: 'flag' };
  const home = options.home ?? labHome();
  const name = await activeLab(home);
  const state = name ? await readState(stateDir(name, home)) : null;
  if (name && state) {
    if (!(await exists(state.inventoryPath))) {
      throw new UsageError(`the active lab "${name}" came from ${state.inventoryPath}, which is gone: name an inventory with lab up --hosts FILE, or remove the lab with lab down`);
    }
    return { file: state.inventoryPath, source: 'active-lab', lab: name };
  }
  const here = resolve(cwd, DEFAULT_INVENTORY);
  if (await exists(here)) return { file: here, source: 'cwd' };
  throw new UsageError(`no inventory: no ${DEFAULT_INVENTORY} here and no lab is up — write one with lab init (--provider local|netns|docker|ssh), or name one with lab up --hosts FILE`);
}
