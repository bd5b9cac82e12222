/**
 * Which lab a command acts on: the one an inventory names (--hosts), else the active lab. Opening a lab gives its
 * state, topology, ledger and its provider (which acts on that ledger).
 */
import { ConfigError, UsageError } from '../errors.js';
import { Ledger } from '../topology/ledger.js';
import { activeLab, brokerUrl, backendUrl, readState, redisPersistence, stateDir, stateTopology } from '../topology/state.js';
import type { LabState } from '../topology/state.js';
import { brokerKindOf, linksOf, redisPersistenceOf } from '../topology/topology.js';
import type { Topology } from '../topology/topology.js';
import type { Provider } from '../providers/provider.js';
import { serviceEnv } from '../services/service.js';
import type { LabUrls } from '../services/service.js';
import { createProvider } from './providers.js';

export interface LabRef {
  name: string;
  dir: string;
}

/** The lab named by --hosts (its inventory's lab name) or the active lab; null when there is none. */
export async function findLab(hostsFile: string | undefined): Promise<LabRef | null> {
  if (hostsFile) {
    // Loaded here, not at start-up: validation (ajv) is only needed when an inventory is read.
    const { loadInventory } = await import('../topology/inventory.js');
    const topology = await loadInventory(hostsFile);
    return { name: topology.name, dir: stateDir(topology.name) };
  }
  const name = await activeLab();
  return name ? { name, dir: stateDir(name) } : null;
}

export interface OpenLab {
  ref: LabRef;
  state: LabState;
  topology: Topology;
  ledger: Ledger;
  provider: Provider;
  urls: LabUrls;
}

/** Open a lab that is (at least partly) up: its state must exist. */
export async function openLab(ref: LabRef): Promise<OpenLab> {
  const state = await readState(ref.dir);
  if (!state) throw new UsageError(`lab "${ref.name}" is not up (no state in ${ref.dir}); bring it up with lab up --hosts <file>`);
  const topology = stateTopology(state);
  // Read-only use (status, logs, exec, run): no repair without the lab's lock.
  const ledger = await Ledger.open(ref.dir, { repair: false });
  const provider = await createProvider(topology, ref.dir, ledger);
  return { ref, state, topology, ledger, provider, urls: labUrls(state, topology) };
}

/** Inside the lab hosts resolve each other by name; from this machine (and on the local provider) by address. */
export function labUrls(state: LabState, topology: Topology): LabUrls {
  const byName = topology.provider !== 'local';
  const q = state.services.quotes;
  const quotes = (host: string): string => `http://${host}:${q.port}/d/quotes.csv?s={}=X&f=p`;
  return {
    brokerInLab: brokerUrl(state, { byAddress: !byName }),
    backendInLab: backendUrl(state, { byAddress: !byName }),
    brokerHere: brokerUrl(state, { byAddress: true }),
    backendHere: backendUrl(state, { byAddress: true }),
    quotesInLab: quotes(byName ? q.host : q.address),
    quotesHere: quotes(q.address),
  };
}

/** Two topologies describe the same lab when everything that shapes the hosts and services is equal. */
export function sameShape(a: Topology, b: Topology): boolean {
  const shape = (t: Topology): string => JSON.stringify({ provider: t.provider, subnet: t.subnet, ports: t.ports, hosts: t.hosts, docker: t.docker, broker: brokerKindOf(t), persistence: redisPersistenceOf(t), links: linksOf(t), external: [t.broker?.external === true, t.backend?.external === true] });
  return shape(a) === shape(b);
}

export function differentLab(name: string, inventory: string): ConfigError {
  return new ConfigError(`lab "${name}" is already up from ${inventory} with a different topology: run \`lab down\` first, then \`lab up\` again`, { file: inventory });
}

/**
 * The lab's environment for programs on its hosts (inLab) or on this machine: lab's and Celery's variable names,
 * and what the lab's Redis keeps on disk (LAB_REDIS_PERSISTENCE: aof-everysec | none), so a run record can say.
 */
export function labEnv(lab: OpenLab, inLab: boolean): Record<string, string> {
  const urls: LabUrls = inLab ? lab.urls : { ...lab.urls, brokerInLab: lab.urls.brokerHere, backendInLab: lab.urls.backendHere, quotesInLab: lab.urls.quotesHere };
  return { ...serviceEnv(urls, lab.state.lab), LAB_REDIS_PERSISTENCE: redisPersistence(lab.state) };
}
