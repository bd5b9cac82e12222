/**
 * Worker groups for one run: a scenario starts workers with their own queues, pool and concurrency while it runs
 * (the no-worker lesson starts one after its call timed out; the routing lesson one per queue; the pools lesson one
 * per pool), and the harness stops whatever is left when the run ends. On the embedded lab a group is a Worker in
 * this process; on a provisioned lab it is a `lab worker` process on each workers host, recorded in the ledger.
 */
import type { PoolKind } from '../queue/index.js';
import type { PeerName } from '../services/worker-group.js';
import type { PeerEndpoint } from './peers.js';

export interface WorkerGroupSpec {
  /** Names the group: its nodes are celery@<host>-<name>, as result metas show them in `worker`. */
  name: string;
  queues: string[];
  pool: PoolKind;
  concurrency: number;
  /** Ack a task after it ran (Celery's acks_late), not when a pool slot takes it. */
  acksLate?: boolean;
  /** prefetch = concurrency × this (Celery's worker_prefetch_multiplier; default 4). */
  prefetchMultiplier?: number;
  /**
   * Whose workers: lab's (`lab worker`, the default) or a peer implementation's (the chapter's Celery, RQ or Pyro4
   * programs from peers/, services/worker-group.ts peerRecipe). A peer group consumes a queue of the run's own
   * (`queues` and `pool` do not apply), and `concurrency` 0 means each workers host's own (the inventory's, as
   * lab's workers there have).
   */
  implementation?: 'lab' | PeerName;
}

export interface WorkerGroup {
  readonly spec: WorkerGroupSpec;
  /** Node names of the group's workers, one per workers host. */
  readonly hostnames: readonly string[];
  /** From start() to every worker consuming, ms. */
  readonly startMs: number;
  /** A peer group: what its driver needs to reach it (its queue, Pyro's name server) and what it is, for the record. */
  readonly peer?: PeerEndpoint;
  /** Warm stop: running tasks finish. Idempotent. */
  stop(): Promise<void>;
}

export interface WorkerGroups {
  /** Where the groups run: 'embedded' (this process) or 'hosts' (the lab's workers hosts). */
  readonly where: 'embedded' | 'hosts';
  start(spec: WorkerGroupSpec): Promise<WorkerGroup>;
  /** Stop every group still running (the harness calls it when the run ends). */
  stopAll(): Promise<void>;
}

/** The group's node name on one host: celery@HOST3-cpu. */
export function groupHostname(host: string, group: string): string {
  return `celery@${host}-${group}`;
}

const GROUP_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** A group name goes into node names, ledger keys and log file names: keep it to a plain word. */
export function checkGroupName(name: string): void {
  if (!GROUP_NAME.test(name)) throw new TypeError(`worker group name ${JSON.stringify(name)} must match ${GROUP_NAME}`);
}

/** For sessions that cannot start workers (a driver inside the lab): says where to run instead. */
export const noWorkerGroups: WorkerGroups = {
  where: 'hosts',
  start() {
    return Promise.reject(new Error('worker groups are started by lab on the controller, not from inside the lab'));
  },
  stopAll: () => Promise.resolve(),
};
