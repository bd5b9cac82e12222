/**
 * `lab init`: a commented ./hosts.yaml for one provider — the book's HOST1–HOST4 mapping, each field explained —
 * from the templates in hosts/init/. It never overwrites a file.
 */
import { open, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';

export const INIT_PROVIDERS = ['local', 'netns', 'docker', 'ssh'] as const;
export type InitProvider = (typeof INIT_PROVIDERS)[number];

/** The file `lab init` writes and `lab up` finds without --hosts. */
export const DEFAULT_INVENTORY = 'hosts.yaml';

export function initTemplate(provider: InitProvider): Promise<string> {
  return readFile(join(PACKAGE_ROOT, 'hosts', 'init', `${provider}.yaml`), 'utf8');
}

/** Write the template to `file` (default ./hosts.yaml); an existing file is a usage error and stays as it was. */
export async function writeInventory(provider: InitProvider, file = DEFAULT_INVENTORY, cwd = process.cwd()): Promise<string> {
  const path = resolve(cwd, file);
  const text = await initTemplate(provider);
  let fh;
  try {
    fh = await open(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${file} already exists; lab init never overwrites: edit it, or move it away and run lab init again`);
    }
    throw new UsageError(`cannot write ${path}: ${(err as Error).message}`);
  }
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
  return path;
}
