/**
 * Implementations of the scenarios (`lab run <scenario> --impl lab,celery,rq,pyro`): a scenario defines the
 * workload, the fixture and the verify once; an implementation is a driver + a worker recipe that runs it — the
 * bundled runtime (`lab`, the scenario's own run()), or one of the chapter's Python programs in peers/:
 *
 *   celery  echo: distributed · currency: sequential, concurrent, distributed · mergesort: local, distributed
 *   rq      echo: distributed · currency: distributed · mergesort: local, distributed
 *   pyro    echo: sync, async · currency: sync, async (compared with lab's sequential and distributed)
 *
 * The harness runs implementation × mode interleaved within each repeat and keys every figure by both
 * (run-record.ts modeKey). This module says which implementation runs which modes, what each needs on a host,
 * and checks a `--impl` list against a scenario.
 */
import { UsageError } from '../errors.js';
import { LAB_IMPLEMENTATION, modeKey } from '../report/run-record.js';
import type { PeerName } from '../services/worker-group.js';

export type { PeerName };

export const PEERS: readonly PeerName[] = ['celery', 'rq', 'pyro'];
export const IMPLEMENTATION_NAMES: readonly string[] = [LAB_IMPLEMENTATION, ...PEERS];

export interface PeerScenario {
  /** The peer's own mode names, in the order they run. */
  modes: string[];
  /** A mode → the bundled runtime's mode it is compared with, where the names differ (pyro's sync, async). */
  compareTo?: Record<string, string>;
}

export interface PeerImplementation {
  name: PeerName;
  summary: string;
  /** Python modules its programs import, each with the Debian package that provides it. */
  packages: { module: string; debian: string }[];
  /** Which hosts need them beside the master (the driver) and the workers hosts: pyro's name server on the broker host. */
  brokerHost: boolean;
  scenarios: Record<string, PeerScenario>;
  /** How its jobs travel, for the record. */
  serializer: string;
}

export const PEER_IMPLEMENTATIONS: Record<PeerName, PeerImplementation> = {
  celery: {
    name: 'celery',
    summary: "Python Celery: the chapter's Celery programs, `celery -A labapp worker` on the workers hosts",
    packages: [
      { module: 'celery', debian: 'python3-celery' },
      { module: 'redis', debian: 'python3-redis' },
    ],
    brokerHost: false,
    scenarios: {
      echo: { modes: ['distributed'] },
      currency: { modes: ['sequential', 'concurrent', 'distributed'] },
      mergesort: { modes: ['local', 'distributed'] },
    },
    serializer: 'json',
  },
  rq: {
    name: 'rq',
    summary: 'Python-RQ: Redis only, `rq worker` × N on the workers hosts, the driver polls for results',
    packages: [
      { module: 'rq', debian: 'python3-rq' },
      { module: 'redis', debian: 'python3-redis' },
    ],
    brokerHost: false,
    scenarios: {
      echo: { modes: ['distributed'] },
      currency: { modes: ['distributed'] },
      mergesort: { modes: ['local', 'distributed'] },
    },
    serializer: 'pickle (RQ default)',
  },
  pyro: {
    name: 'pyro',
    summary: 'Pyro4: a name server on the broker host, one daemon per worker process, sync and async proxies',
    packages: [{ module: 'Pyro4', debian: 'python3-pyro4' }],
    brokerHost: true,
    scenarios: {
      echo: { modes: ['sync', 'async'], compareTo: { sync: 'distributed', async: 'distributed' } },
      currency: { modes: ['sync', 'async'], compareTo: { sync: 'sequential', async: 'distributed' } },
    },
    serializer: 'serpent (Pyro4 default)',
  },
};

export function isPeer(name: string): name is PeerName {
  return (PEERS as readonly string[]).includes(name);
}

/** One implementation of a run, with its modes as they are keyed in the record. */
export interface PlannedImplementation {
  name: string;
  modes: { mode: string; key: string }[];
  /** Mode key → lab's mode key it is compared with. */
  compareTo: Record<string, string>;
  baseline: string;
  candidate: string;
}

interface ScenarioShape {
  name: string;
  modes: string[];
  baseline: string;
  candidate: string;
}

/** The implementations of a scenario, lab's first. */
export function implementationsOf(scenario: ScenarioShape): string[] {
  return [LAB_IMPLEMENTATION, ...PEERS.filter((p) => PEER_IMPLEMENTATIONS[p].scenarios[scenario.name])];
}

/** Parse `--impl lab,celery` (a list or a comma string): names in the order given, each once. */
export function parseImplementations(value: unknown): string[] {
  const words = (Array.isArray(value) ? value : [value])
    .flatMap((v) => String(v ?? '').split(','))
    .map((w) => w.trim())
    .filter(Boolean);
  if (words.length === 0) throw new UsageError(`--impl: name at least one implementation (${IMPLEMENTATION_NAMES.join(', ')})`);
  return [...new Set(words)];
}

/**
 * Check an implementation list against a scenario and lay out its modes. An unknown name, or one that does not
 * implement the scenario, is a usage error in one line saying what does.
 */
export function planImplementations(scenario: ScenarioShape, names: readonly string[]): PlannedImplementation[] {
  const offered = implementationsOf(scenario);
  for (const name of names) {
    if (!IMPLEMENTATION_NAMES.includes(name)) throw new UsageError(`--impl: unknown implementation "${name}" (known: ${IMPLEMENTATION_NAMES.join(', ')}); ${scenario.name} is implemented by ${offered.join(', ')}`);
    if (!offered.includes(name)) throw new UsageError(`--impl: ${name} does not implement ${scenario.name} (implemented by: ${offered.join(', ')})`);
  }
  return names.map((name) => {
    if (!isPeer(name)) {
      return { name, modes: scenario.modes.map((mode) => ({ mode, key: mode })), compareTo: {}, baseline: scenario.baseline, candidate: scenario.candidate };
    }
    const s = PEER_IMPLEMENTATIONS[name].scenarios[scenario.name]!;
    const modes = s.modes.map((mode) => ({ mode, key: modeKey(name, mode) }));
    const compareTo: Record<string, string> = {};
    for (const m of modes) {
      const lab = s.compareTo?.[m.mode] ?? m.mode;
      if (scenario.modes.includes(lab)) compareTo[m.key] = lab;
    }
    return { name, modes, compareTo, baseline: modes[0]!.key, candidate: modes[modes.length - 1]!.key };
  });
}

/** The hosts' Python and its packages, for the implementations given (the install line names them all). */
export function packagesOf(impls: readonly PeerName[]): { module: string; debian: string }[] {
  const seen = new Map<string, { module: string; debian: string }>();
  for (const i of impls) for (const p of PEER_IMPLEMENTATIONS[i].packages) seen.set(p.module, p);
  return [...seen.values()];
}

/** The interpreter lab runs the peers with: LAB_PYTHON, else Debian's (the python3 on a PATH may be another one). */
export function peerPython(env: NodeJS.ProcessEnv = process.env): string {
  return env.LAB_PYTHON && env.LAB_PYTHON.trim() !== '' ? env.LAB_PYTHON : '/usr/bin/python3';
}
