/**
 * What the harness needs from a lab to run peer implementations (`--impl celery,rq,pyro`), and the peers of one
 * run: their workers (started for the run, or already started by the controller) and one long-lived driver each on
 * the machine the harness runs on.
 *
 * Where the pieces run: on a provisioned lab the harness itself runs on the master host (`lab run … --in-lab`, as
 * for the bundled runtime), so every implementation's driver runs there; the controller (which holds the provider)
 * checked the hosts' Python, started the peers' workers through worker groups before, and stops them after
 * (peers-on-lab.ts). Against a services session (RabbitMQ + Redis that already run) everything is on this machine
 * (local-peer-groups.ts). The embedded lab has none: Python cannot reach its in-memory broker.
 */
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { ImplementationRun } from '../report/run-record.js';
import { PEER_IMPLEMENTATIONS } from './implementations.js';
import type { PeerName, PlannedImplementation } from './implementations.js';
import { PeerDriver } from './peer-driver.js';
import type { DriverSample } from './peer-driver.js';

/** A peer's workers for one run, as the record shows them. */
export interface PeerWorkersInfo {
  command: string;
  processes: number;
  hosts: string[];
  startMs?: number;
}

/** What a peer's driver needs to reach its workers (the run's queue, the name server) and what they are. */
export interface PeerEndpoint {
  env: Record<string, string>;
  workers: PeerWorkersInfo;
}

export interface PeerAccess {
  /** The interpreter and the peers/ directory on the machine the drivers run on (the harness's). */
  readonly python: string;
  readonly peersDir: string;
  /** That machine's name in the lab (the master host), for the record. */
  readonly host: string;
  /** Every driver's environment beside this process's: the lab's URLs as seen from here. */
  readonly env: Record<string, string>;
  /** Check the Python of every host the peers will use before anything starts; host → versions. */
  preflight(impls: PeerName[]): Promise<Record<string, Record<string, string>>>;
  /** The peer's workers for this run: started now, or found started (a provisioned lab's controller did it). */
  workers(impl: PeerName): Promise<PeerEndpoint>;
}

/** The message for a lab whose broker Python cannot reach (the embedded lab). */
export function noPeersHere(impls: readonly string[]): UsageError {
  return new UsageError(
    `--impl ${impls.join(',')} needs RabbitMQ and Redis that Python can reach, and the embedded lab's are in this process: bring a lab up (lab init --provider netns && lab up), then run again`,
  );
}

/** The versions a driver reports that go into the fingerprint (its other info — serializer, polls — goes elsewhere). */
const VERSION_KEYS = ['python', 'celery', 'kombu', 'rq', 'redis_py', 'pyro4', 'serpent'];

interface Running {
  impl: PeerName;
  endpoint: PeerEndpoint;
  driver: PeerDriver;
  last: Record<string, unknown>;
}

/** The peers of one run: workers and a driver per implementation, in the order given. */
export class PeerRun {
  private constructor(
    private readonly access: PeerAccess,
    private readonly running: Map<PeerName, Running>,
    private readonly hostVersions: Record<string, Record<string, string>>,
  ) {}

  static async open(access: PeerAccess, impls: PeerName[], o: { timeoutS: number; signal: AbortSignal }): Promise<PeerRun> {
    const hostVersions = await access.preflight(impls);
    const running = new Map<PeerName, Running>();
    const run = new PeerRun(access, running, hostVersions);
    try {
      for (const impl of impls) {
        if (o.signal.aborted) break;
        const endpoint = await access.workers(impl);
        const dir = join(access.peersDir, impl);
        const env: NodeJS.ProcessEnv = { ...process.env, ...access.env, ...endpoint.env, LAB_TIMEOUT_S: String(o.timeoutS), PYTHONDONTWRITEBYTECODE: '1' };
        // The Pyro key goes to Pyro's driver only.
        if (impl !== 'pyro') delete env.PYRO_HMAC_KEY;
        const driver = await PeerDriver.start({ impl, python: access.python, script: join(dir, 'driver.py'), cwd: dir, env });
        running.set(impl, { impl, endpoint, driver, last: driver.info });
      }
    } catch (err) {
      await run.close();
      throw err;
    }
    return run;
  }

  async sample(impl: PeerName, scenario: string, mode: string, params: Record<string, unknown>, timeoutS: number, signal: AbortSignal): Promise<DriverSample> {
    const r = this.running.get(impl);
    if (!r) throw new TypeError(`${impl} was not opened`);
    // The driver's own timeout (LAB_TIMEOUT_S) comes first; this one catches a driver that hangs.
    const s = await r.driver.run(scenario, mode, params, (timeoutS + 60) * 1000, signal);
    r.last = s.info;
    return s;
  }

  /** Interpreter and package versions per implementation, for the fingerprint. */
  versions(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const r of this.running.values()) {
      const v: Record<string, string> = {};
      for (const k of VERSION_KEYS) if (typeof r.driver.info[k] === 'string') v[k] = r.driver.info[k] as string;
      // The hosts' own versions where they differ from the driver's (a workers host with another Celery).
      for (const [host, hv] of Object.entries(this.hostVersions)) {
        for (const [k, x] of Object.entries(hv)) {
          const name = k === 'redis' ? 'redis_py' : k.toLowerCase();
          if (v[name] !== undefined && v[name] !== x) v[`${name}@${host}`] = x;
        }
      }
      out[r.impl] = v;
    }
    return out;
  }

  /** The record's description of one peer implementation. */
  describe(p: PlannedImplementation): ImplementationRun {
    const r = this.running.get(p.name as PeerName);
    const out: ImplementationRun = { name: p.name, modes: p.modes.map((m) => m.key), compareTo: p.compareTo, serializer: PEER_IMPLEMENTATIONS[p.name as PeerName].serializer };
    if (!r) return out;
    out.workers = r.endpoint.workers;
    out.driver = { command: r.driver.command, host: this.access.host, startMs: r.driver.startMs };
    out.info = r.last;
    if (p.name === 'rq') {
      const poll = typeof r.last.poll_ms === 'number' ? r.last.poll_ms : 5;
      out.notes = [
        `the driver polls each job's result every ${poll} ms (RQ has no blocking get): up to one interval of latency per job and one Redis round trip per poll (${String(r.last.polls ?? '?')} polls in the last sample)`,
        "jobs are pickled between RQ's own driver and workers (RQ's default serializer); lab's runtime never reads them",
      ];
    }
    if (p.name === 'pyro') out.notes = ['protected by an HMAC key lab made for this lab (Pyro4 4.82 HMAC mode, marked deprecated there; not SSL)', 'the client is its own scheduler: calls go round-robin over the worker daemons'];
    return out;
  }

  async close(): Promise<void> {
    // The drivers go; what they said stays for the record.
    await Promise.all([...this.running.values()].map((r) => r.driver.close()));
  }
}
