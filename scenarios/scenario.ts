/**
 * What a scenario is: its parameters (declared, so the CLI can build flags, validate them and sweep them), its
 * modes (e.g. local vs distributed), the module that defines its tasks (imported by every worker), and how to
 * prepare an input, run one mode once, and verify what came out.
 *
 * ## Your own scenario (`lab run ./my-scenario.js`)
 *
 * The same interface, written in plain JavaScript (examples/wordcount/scenario.js is a complete one; README "Your
 * own code" walks through it). The module exports the scenario object — `export default { … }` or
 * `export const scenario = { … }` — and lab completes it (lab/cli/user-scenario.ts):
 *
 *   required   name         lowercase letters, digits, - ("wordcount"); names its run records; not a built-in's name
 *              params       { n: { type: 'int', describe: '…', default: 8, min: 1, sweep: true }, … } → `--n`
 *              modes        ['local', 'distributed']: each repeat runs every mode once, in this order
 *              tasksModule  new URL('./tasks.js', import.meta.url) (or a path relative to the scenario module):
 *                           the module that registers its tasks — the embedded lab's workers import it; on a
 *                           provisioned lab list it in the inventory's `tasks:` so the lab's workers load it
 *              run(mode, params, fixture, ctx) → { output, phases: { name: ms, … } }   (ctx: ScenarioContext)
 *              verify(params, fixture, output, mode) → { ok, detail }
 *   optional   app()        the App its tasks are registered on (default: the tasks module's `app` export)
 *              prepare(params) → fixture (default: null); summary, description, examples;
 *              baseline / candidate (default: the first / last mode); defaults { repeat: 5, warmup: 1 };
 *              setUp, tearDown, conclude, summarize, describe, needs, embeddedWorker — as below
 *
 * Parameters arrive parsed: an `int` param is a number in run(); a swept one (`--n 2,4,8`) makes one point each.
 * In run(), send tasks with the scenario's app (`await task.delay(…)` / `group(…)`), wait with
 * `.get({ timeout: ctx.timeoutS, signal: ctx.signal })`, and time what matters into `phases`; lab repeats, warms
 * up, computes the statistics and writes the run record. A user scenario's driver runs in the `lab run` process —
 * on a provisioned lab that is the controller (`driver: 'controller'`), talking to the lab's broker and backend.
 * TypeScript? Compile it (npx tsc) and give lab the .js.
 */
import type { App, PoolKind } from '../lab/queue/index.js';
import type { LabInfo, ModeStats, Verdict } from '../lab/report/run-record.js';
import type { WorkerGroups } from '../lab/harness/worker-groups.js';
import type { HostFiles } from '../lab/harness/host-files.js';

export type { WorkerGroup, WorkerGroups, WorkerGroupSpec } from '../lab/harness/worker-groups.js';

export type ParamType = 'int' | 'number' | 'string';

export interface ParamSpec {
  type: ParamType;
  describe: string;
  default: number | string | string[];
  min?: number;
  max?: number;
  /** For strings: the accepted form, and how to say it in an error. */
  pattern?: RegExp;
  patternHint?: string;
  /** Taken from the positional arguments (currency's PAIR...). At most one per scenario. */
  positional?: boolean;
  /** The value is a list (positional pairs); a list-valued param is one value, not a sweep. */
  list?: boolean;
  /** Comma-separated values sweep this parameter (each value is a point of the run). */
  sweep?: boolean;
}

export interface ScenarioContext {
  /** The scenario's app, connected to the lab's broker and backend. */
  app: App;
  lab: LabInfo;
  signal: AbortSignal;
  /** URL template of the lab's quote server ("http://HOST4:8080/d/quotes.csv?s={}=X&f=p"), when the lab runs one. */
  quotesUrl: string | null;
  /** Seconds a distributed step may wait for results before the run fails. */
  timeoutS: number;
  /** The queue the scenario's tasks go to unless it routes them itself (`lab run --queue`; default celery). */
  queue: string;
  /** Start workers for this run (scenarios that declare needs.workerGroups). */
  workers: WorkerGroups;
  /** What setUp() returned for this parameter point (undefined without setUp). */
  env: unknown;
  /** Files on the workers hosts (the ledger scenario's execution records); absent for a driver inside the lab. */
  files?: HostFiles;
}

export interface ModeResult<O> {
  output: O;
  phases: Record<string, number>;
  latenciesMs?: number[];
}

export interface Scenario<P extends Record<string, unknown> = Record<string, unknown>, F = unknown, O = unknown> {
  name: string;
  summary: string;
  /** Longer text for `lab run <name> --help`. */
  description: string;
  examples: [string, string][];
  params: Record<string, ParamSpec>;
  /** Run in this order within each repeat (interleaved), so drift hits every mode alike. */
  modes: string[];
  baseline: string;
  candidate: string;
  defaults: { repeat: number; warmup: number };
  /**
   * `lab run <name> --smoke` (and `lab run smoke`): small parameters (as the command line would give them), one
   * measured repeat, a short timeout — enough to show the scenario works on a lab, fast enough for every push. A
   * scenario whose figures a CI gate compares (`lab report --check --max`) takes one warm-up (`warmup: 1`): a
   * single cold repeat measures the workers' first task (pool start-up, connections), not the scenario.
   */
  smoke?: { params: Record<string, string>; timeoutS?: number; warmup?: number };
  /** The module that registers this scenario's tasks (workers import it). */
  tasksModule: URL;
  /** The app that module defines. */
  app(): Promise<App>;
  /** Worker settings for the embedded lab (e.g. the async pool for I/O-bound tasks). */
  embeddedWorker?: { pool?: PoolKind; concurrency?: number };
  /**
   * What this scenario needs beside a broker and a backend: the quote server (currency); worker groups it starts
   * itself (lessons) — then the embedded lab starts no default worker, and on a provisioned lab the driver runs on
   * this machine (the controller), which can start and stop workers on the workers hosts.
   */
  needs?: { quotes?: boolean; workerGroups?: boolean };
  /** For a lesson of the book: what the book says happens, in one line (`lab run lessons` prints it). */
  lesson?: string;
  /**
   * Where the driver runs on a provisioned lab: 'master' (the default: on the master host, as the book's main.py
   * does) or 'controller' (this machine). Scenarios loaded from a user's module run on the controller: the module
   * and everything it imports stay where they are. Scenarios that start worker groups run there too (needs).
   */
  driver?: 'master' | 'controller';
  /** Build the input for one parameter point (no lab needed: it runs while the workers start). */
  prepare(params: P): Promise<F> | F;
  /** Once per parameter point before its repeats (start worker groups…); what it returns is ctx.env. */
  setUp?(params: P, fixture: F, ctx: ScenarioContext): Promise<unknown>;
  /** Once per point after its repeats, even when one failed (the harness stops leftover worker groups anyway). */
  tearDown?(params: P, fixture: F, ctx: ScenarioContext): Promise<void>;
  run(mode: string, params: P, fixture: F, ctx: ScenarioContext): Promise<ModeResult<O>>;
  verify(params: P, fixture: F, output: O, mode: string): Verdict;
  /**
   * A verdict across modes, from one point's statistics (the pools lesson: threads beat prefork on I/O). Combined
   * with the per-output verdicts: the point is verified only when both hold.
   */
  conclude?(params: P, stats: Record<string, ModeStats>): Verdict;
  /** A small, human-readable summary of an output, kept in the run record. */
  summarize?(output: O): unknown;
  /** Lines to print after the run, from the summary (currency prints each pair and rate, like the book). */
  describe?(summary: unknown): string[];
}

/** Erase the type parameters for the registry. */
// any: a registry holds scenarios of every parameter, fixture and output type; each one is checked where it is defined.
export type AnyScenario = Scenario<any, any, any>;
