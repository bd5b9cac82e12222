/**
 * The run record: everything one `lab run` measured, written as JSON to reports/. Renderers and comparisons read
 * only this shape, so it is versioned (`schema`) and additive: new fields may appear, existing ones keep meaning.
 */

import type { RunFaults } from '../faults/windows.js';

export const RUN_RECORD_SCHEMA = 'lab.run/1';

/** Summary statistics of one figure over the measured (non-warm-up) repeats, in milliseconds. */
export interface Summary {
  n: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  stddev: number;
  /** Median absolute deviation (unscaled). */
  mad: number;
  p95: number;
  p99: number;
  /** Indices (into the measured samples) whose modified z-score exceeds 14.8 — flagged, never dropped. */
  outliers: number[];
}

/**
 * Implementations (`lab run --impl lab,celery,rq,pyro`): the same scenario run by the bundled runtime (`lab`) and by
 * peers (the chapter's Python programs). Every figure of a record is keyed by a mode key: the bundled runtime's modes
 * keep their own names ("distributed" — so records from before implementations read as lab's), a peer's mode is
 * "<impl>/<mode>" ("celery/distributed", "pyro/async"). `RunRecord.implementations` says which ran and how.
 */
export const LAB_IMPLEMENTATION = 'lab';

export function modeKey(impl: string, mode: string): string {
  return impl === LAB_IMPLEMENTATION ? mode : `${impl}/${mode}`;
}

/** The implementation and its own mode name of a mode key ("celery/distributed" → celery, distributed). */
export function splitModeKey(key: string): { impl: string; mode: string } {
  const i = key.indexOf('/');
  return i < 0 ? { impl: LAB_IMPLEMENTATION, mode: key } : { impl: key.slice(0, i), mode: key.slice(i + 1) };
}

/** One implementation of a multi-implementation run. */
export interface ImplementationRun {
  /** lab (the bundled runtime), celery, rq, pyro. */
  name: string;
  /** Its mode keys in this record, in the order they ran within each repeat. */
  modes: string[];
  /**
   * Mode key → the bundled runtime's mode key it is compared with ("pyro/sync" → "sequential"); a mode with
   * none is compared with lab's mode of the same name when there is one.
   */
  compareTo?: Record<string, string>;
  /** The workers started for the run: the command of one, how many processes, on which hosts. */
  workers?: { command: string; processes: number; hosts: string[]; startMs?: number };
  /** The driver: its command, the host it ran on, how long it took to start (interpreter, imports, ready line). */
  driver?: { command: string; host?: string; startMs?: number };
  /** How its messages were encoded (lab: json; RQ: pickle). */
  serializer?: string;
  /** What a reader must know about how it ran (RQ's polling interval and what it costs). */
  notes?: string[];
  /** What its driver reported about itself (versions, RQ's polls of the last sample). */
  info?: Record<string, unknown>;
}

/** One timed execution of one mode. */
export interface RunSample {
  /** The mode key (modeKey): "distributed" for the bundled runtime, "celery/distributed" for a peer. */
  mode: string;
  /** 0-based repeat index; warm-up repeats come first and are marked. */
  repeat: number;
  warmup: boolean;
  totalMs: number;
  /** Phase name → milliseconds (e.g. split, dispatch+wait, merge). Phases need not sum to the total. */
  phases: Record<string, number>;
  /** Per-item latencies inside this repeat, when the mode has them (currency: one per request). */
  latenciesMs?: number[];
}

export interface ModeStats {
  total: Summary;
  phases: Record<string, Summary>;
}

export interface Verdict {
  ok: boolean;
  detail: string;
}

/** One parameter combination of a run (a sweep has several; a plain run has one). */
export interface RunPoint {
  params: Record<string, unknown>;
  samples: RunSample[];
  /** mode → statistics over the measured samples of that mode */
  stats: Record<string, ModeStats>;
  verify: Verdict;
  /** What the scenario produced, for people (currency: the rates; echo: the reply). Small. */
  output?: unknown;
}

export interface ServiceInfo {
  kind: string;
  /** A Redis backend: whether it keeps results across a restart ('aof-everysec') or not ('none'). */
  persistence?: string;
  /** URL with the password masked. */
  url: string;
  version?: string;
  host?: string;
}

export interface LabInfo {
  /** 'embedded' for the in-process lab, else the provider of the active lab (local, netns, ssh, docker). */
  kind: string;
  name: string;
  hosts: { name: string; address?: string; roles: string[] }[];
  broker: ServiceInfo;
  backend: ServiceInfo;
  workers: { pool: string; concurrency: number; prefetchMultiplier: number; hosts: string[] };
  serializer: string;
  /** A provisioned lab: whether its links went through lab's link proxy (inventory `links: proxy`; absent: direct). */
  links?: string;
  /** Where the driver ran: the lab's master host (the default), or this machine (scenarios that start workers). */
  driver?: 'master' | 'controller';
}

export interface Fingerprint {
  node: string;
  os: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  hostname: string;
  labVersion: string;
  gitCommit: string | null;
  /** Peer implementations that ran: implementation → interpreter and package versions (python, celery, rq, pyro4…). */
  peers?: Record<string, Record<string, string>>;
  /** lab's task serializer for the run (`lab run --serializer`): json or msgpack. Absent in older records: json. */
  serializer?: string;
}

export interface RunRecord {
  schema: typeof RUN_RECORD_SCHEMA;
  /** Unique and sortable: <ISO time>-<scenario>-<random>. */
  id: string;
  label?: string;
  scenario: string;
  /** The parameters as given (a sweep parameter holds its list of values). */
  params: Record<string, unknown>;
  /** Mode keys in the order they ran within each repeat (interleaved: A B A B …); a peer's as "<impl>/<mode>". */
  modes: string[];
  /** The mode speed-ups are measured against (e.g. local), and the one measured (e.g. distributed). */
  baseline: string;
  candidate: string;
  repeat: number;
  warmup: number;
  lab: LabInfo;
  env: Fingerprint;
  startedAt: string;
  finishedAt: string;
  points: RunPoint[];
  /** True when every point verified. */
  verified: boolean;
  /** The implementations compared, in run order (absent: the bundled runtime alone, as every record before them). */
  implementations?: ImplementationRun[];
  /** Set when the run stopped early (a task failed, Ctrl-C): the points measured so far are kept. */
  error?: string;
  /** `lab run --faults`: the schedule, each fault as it happened (applied, healed, time to recover), counts per window. */
  faults?: RunFaults;
}
