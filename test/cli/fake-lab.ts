/**
 * An "active lab" for tests that only read lab state: a state.json (and the active pointer) in a temporary LAB_HOME,
 * made from a local inventory exactly as `lab up` makes it, without starting anything.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../lab/topology/inventory.js';
import { ensureStateDir, newState, setActiveLab, writeState } from '../../lab/topology/state.js';
import type { LabState } from '../../lab/topology/state.js';

export interface FakeLab {
  home: string;
  dir: string;
  state: LabState;
  inventory: string;
}

/** A lab named `name` whose broker and backend listen on the given ports of 127.0.0.1 (nothing runs there). */
export async function fakeLab(name: string, ports: { broker: number; backend: number; quotes?: number }, home?: string): Promise<FakeLab> {
  const h = home ?? (await mkdtemp(join(tmpdir(), 'lab-fake-home-')));
  const inventory = join(h, `${name}.yaml`);
  const text = `lab: ${name}\nprovider: local\nports: { broker: ${ports.broker}, backend: ${ports.backend}, quotes: ${ports.quotes ?? 18_001} }\nhosts:\n  HOST1:\n  HOST2:\n  HOST3:\n  HOST4:\n`;
  await writeFile(inventory, text);
  const topology = await parseInventory(text, inventory);
  const dir = await ensureStateDir(name, h);
  const state = await writeState(dir, { ...newState(topology), status: 'up' });
  await setActiveLab(name, h);
  return { home: h, dir, state, inventory };
}
