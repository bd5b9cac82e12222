/**
 * `lab run <scenario> [args]`: one subcommand per scenario, its flags built from the scenario's declared params.
 * `lab run ./my-scenario.js` (or an installed package's name) loads a user's scenario (user-scenario.ts) and makes
 * it a subcommand of that word, with flags built the same way.
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { POOL_KINDS } from '../../queue/index.js';
import type { PoolKind } from '../../queue/index.js';
import { LESSONS, SCENARIOS } from '../../../scenarios/index.js';
import type { AnyScenario } from '../../../scenarios/scenario.js';
import { implementationsOf } from '../../harness/implementations.js';
import { SMOKE_SCENARIOS, runSettings } from '../smoke.js';
import { hostsOption, reportsOption, serializerOption, verdictOptions } from '../shared-options.js';
import { userScenarioCommand } from '../user-scenario.js';
import type { GlobalFlags, HostsFlag, ReportsFlag, VerdictOptionFlags } from '../shared-options.js';

interface RunFlags extends GlobalFlags, ReportsFlag, HostsFlag, VerdictOptionFlags {
  embedded: boolean;
  'in-lab'?: string;
  repeat?: number;
  warmup?: number;
  timeout?: number;
  smoke: boolean;
  label?: string;
  queue?: string;
  impl?: string;
  faults?: string;
  pool?: string;
  concurrency?: number;
  serializer?: 'json' | 'msgpack';
  [param: string]: unknown;
}

function runOptions<T>(y: Argv<T>, s: AnyScenario): Argv<T> {
  return serializerOption(verdictOptions(hostsOption(reportsOption(y))), "the scenario's task bodies and (embedded lab) results: json (default) or msgpack (application/x-msgpack); recorded in the run record")
    .option('embedded', { type: 'boolean', default: false, describe: 'use the embedded lab even when a lab is up', group: 'Lab:' })
    .option('in-lab', { type: 'string', hidden: true, describe: 'internal: run inside a provisioned lab (set by lab run on the master host)' })
    .option('repeat', { type: 'number', describe: `measured repeats per mode (default ${s.defaults.repeat})`, group: 'Run:' })
    .option('warmup', { type: 'number', describe: `warm-up repeats, not measured (default ${s.defaults.warmup})`, group: 'Run:' })
    .option('timeout', { type: 'number', describe: 'seconds to wait for task results before the run fails', defaultDescription: '120; 30 with --smoke', group: 'Run:' })
    .option('smoke', { type: 'boolean', default: false, describe: `small parameters${s.smoke ? ` (${Object.entries(s.smoke.params).map(([k, v]) => `--${k} ${v}`).join(' ') || 'the defaults'})` : ''}, one repeat${s.smoke?.warmup ? ` after ${s.smoke.warmup} warm-up` : ''}, a 30 s timeout — a quick check that the lab works (flags you give win)`, group: 'Run:' })
    .option('label', { type: 'string', describe: 'a name for this run (lab report --compare A B takes labels)', group: 'Run:' })
    .option('queue', { alias: 'Q', type: 'string', describe: "queue the scenario's tasks go to (default: celery); a lab's workers must consume it", group: 'Run:' })
    .option('faults', { type: 'string', describe: 'a fault schedule beside the run, a file or inline: "kill workers@HOST3 at 1s; partition HOST3 from HOST1 at 2s for 10s" (lab fault --help); every fault healed', group: 'Run:' })
    .option('impl', { type: 'string', describe: `implementations to compare, side by side: ${implementationsOf(s).join(', ')} (lab = the bundled runtime; the others are the chapter's Python programs, run on a lab that is up)`, default: undefined, defaultDescription: 'lab', group: 'Run:' })
    .option('pool', { type: 'string', choices: POOL_KINDS as string[], describe: 'embedded lab: worker pool (threads, prefork, async)', group: 'Embedded lab:' })
    .option('concurrency', { type: 'number', alias: 'c', describe: 'embedded lab: worker pool size (default: CPU count)', group: 'Embedded lab:' }) as Argv<T>;
}

/** `word`: what the command line names the scenario by (a user scenario's path); default its name. */
function scenarioCommand(s: AnyScenario, word = s.name): CommandModule<GlobalFlags, RunFlags> {
  const positional = Object.entries(s.params).find(([, p]) => p.positional);
  const command = positional ? `${word} [${positional[0]}${positional[1].list ? '..' : ''}]` : word;
  return {
    command,
    describe: s.summary,
    builder: (y) => {
      let b = y.usage(`$0 run ${command} [options]\n\n${s.description}`);
      for (const [name, spec] of Object.entries(s.params)) {
        const def = Array.isArray(spec.default) ? spec.default.join(' ') : String(spec.default);
        const describe = `${spec.describe}${spec.sweep ? ' (a comma list sweeps it)' : ''} [default: ${def}]`;
        if (spec.positional) b = b.positional(name, { type: 'string', describe, array: spec.list });
        else b = b.option(name, { type: 'string', describe, group: 'Scenario:' });
      }
      for (const [cmd, text] of s.examples) b = b.example(cmd, text);
      return runOptions(b, s) as Argv<RunFlags>;
    },
    handler: async (argv) => {
      const given: Record<string, unknown> = {};
      for (const name of Object.keys(s.params)) given[name] = argv[name];
      const [{ runScenarioCommand }, { runWithVerdicts }] = await Promise.all([import('../run-scenario.js'), import('../verdict-output.js')]);
      const { raw, repeat, warmup, timeout } = runSettings(s, { raw: given, repeat: argv.repeat, warmup: argv.warmup, timeout: argv.timeout }, argv.smoke);
      process.exitCode = await runWithVerdicts(s.name, argv, (extra) => runScenarioCommand({
        ...extra,
        scenario: s,
        raw,
        hosts: argv.hosts,
        embedded: argv.embedded,
        inLab: argv['in-lab'],
        repeat,
        warmup,
        timeout,
        label: argv.label,
        queue: argv.queue,
        impl: argv.impl,
        pool: argv.pool as PoolKind | undefined,
        concurrency: argv.concurrency,
        serializer: argv.serializer,
        reports: argv.reports,
        json: argv.json,
        faults: argv.faults,
      }));
    },
  };
}

interface LessonsFlags extends GlobalFlags, ReportsFlag, HostsFlag, VerdictOptionFlags {
  lesson?: string[];
  embedded: boolean;
  timeout: number;
  label?: string;
}

interface SmokeFlags extends GlobalFlags, ReportsFlag, HostsFlag, VerdictOptionFlags {
  embedded: boolean;
  timeout?: number;
  label?: string;
}

/** `lab run smoke`: the smoke scenarios one after another, one line each (cli/run-smoke.ts). */
const smokeCommand: CommandModule<GlobalFlags, SmokeFlags> = {
  command: 'smoke',
  describe: 'a quick check that a lab works, for CI: echo, currency, mergesort and the exception, retry and purge lessons, small',
  builder: (y) =>
    verdictOptions(hostsOption(reportsOption(y)))
      .usage(`$0 run smoke [options]\n\nRuns ${SMOKE_SCENARIOS.join(', ')} in smoke mode (each scenario's small parameters, one measured repeat — after one warm-up for echo, currency and mergesort, whose figures a gate may compare — a 30 s timeout) on the lab \`lab run\` would use — the lab that is up, else the embedded lab — and prints one line per scenario. Each writes its run record. Exit 1 if any failed. --junit FILE writes a JUnit test case per scenario × implementation × mode × point; --tap prints TAP.`)
      .option('embedded', { type: 'boolean', default: false, describe: 'use the embedded lab even when a lab is up', group: 'Lab:' })
      .option('timeout', { type: 'number', describe: 'seconds each scenario waits for task results', defaultDescription: '30', group: 'Run:' })
      .option('label', { type: 'string', describe: 'a label for the run records', group: 'Run:' })
      .example('$0 run smoke', 'six scenarios, one line each')
      .example('$0 run smoke --junit reports/junit.xml', 'and a JUnit file for the CI system') as Argv<SmokeFlags>,
  handler: async (argv) => {
    if (argv.timeout !== undefined && !(argv.timeout > 0)) throw new UsageError(`--timeout: expected seconds > 0, got ${String(argv.timeout)}`);
    const { runSmokeCommand } = await import('../run-smoke.js');
    process.exitCode = await runSmokeCommand({ hosts: argv.hosts, embedded: argv.embedded, timeout: argv.timeout, label: argv.label, reports: argv.reports, json: argv.json, junit: argv.junit, tap: argv.tap });
  },
};

/** `lab run lessons [LESSON..]`: the chapter's lessons in order, one line each. */
const lessonsCommand: CommandModule<GlobalFlags, LessonsFlags> = {
  command: 'lessons [lesson..]',
  describe: "the chapter's lessons one after another: what the book says, what happened here, the verdict",
  builder: (y) =>
    verdictOptions(hostsOption(reportsOption(y)))
      .usage(
        `$0 run lessons [LESSON..] [options]\n\nRuns the book's lessons in the chapter's order (${LESSONS.map((l) => l.name).join(', ')}) on the lab \`lab run\` would use — the lab that is up, else the embedded lab — and prints one line per lesson: ✓ or ✗, what the book says, what happened here. Each lesson writes its run record; the exit code is 1 if any lesson did not happen.`,
      )
      .positional('lesson', { type: 'string', array: true, describe: 'run only these lessons (default: all)' })
      .option('embedded', { type: 'boolean', default: false, describe: 'use the embedded lab even when a lab is up', group: 'Lab:' })
      .option('timeout', { type: 'number', default: 120, describe: 'seconds each lesson waits for task results before it fails', group: 'Run:' })
      .option('label', { type: 'string', describe: 'a label for the run records', group: 'Run:' })
      .example('$0 run lessons', 'every lesson, one line each')
      .example('$0 run lessons no-worker expires --json', 'two lessons, their run records as JSON') as Argv<LessonsFlags>,
  handler: async (argv) => {
    if (!(argv.timeout > 0)) throw new UsageError(`--timeout: expected seconds > 0, got ${String(argv.timeout)}`);
    const { runLessonsCommand } = await import('../run-lessons.js');
    process.exitCode = await runLessonsCommand({ hosts: argv.hosts, embedded: argv.embedded, timeout: argv.timeout, label: argv.label, reports: argv.reports, json: argv.json, only: argv.lesson, junit: argv.junit, tap: argv.tap });
  },
};

export const runCommandModule: CommandModule<GlobalFlags, GlobalFlags> = {
  command: 'run <scenario>',
  describe: "run a scenario and record its timings (echo, currency, mergesort, ./your-scenario.js), one of the chapter's lessons, or all of them (lessons)",
  builder: async (y) => {
    let b = y.usage('$0 run <scenario> [args] [options]\n\nRuns on the active lab if one is up, else on the embedded lab (this machine, in-memory broker and backend, a worker pool of threads). Every run writes a run record to reports/. Your own scenario: lab run ./my-scenario.js (README: "Your own code").');
    b = b.command(lessonsCommand as unknown as CommandModule<GlobalFlags, GlobalFlags>);
    b = b.command(smokeCommand as unknown as CommandModule<GlobalFlags, GlobalFlags>);
    for (const s of SCENARIOS) b = b.command(scenarioCommand(s) as unknown as CommandModule<GlobalFlags, GlobalFlags>);
    const user = await userScenarioCommand(y, SCENARIOS);
    if (user) b = b.command(scenarioCommand(user.scenario, user.word) as unknown as CommandModule<GlobalFlags, GlobalFlags>);
    return b
      .command({
        command: '$0 [name]',
        describe: false,
        // Whatever flags came with an unknown scenario, the error to give is about the scenario.
        builder: (y) => y.strict(false),
        handler: (argv) => {
          const known = [...SCENARIOS.map((s) => s.name), 'lessons', 'smoke'].join(', ');
          const name = (argv as { name?: string }).name;
          const yours = "a scenario of yours: lab run ./my-scenario.js, or an installed package's name";
          throw new UsageError(name ? `unknown scenario "${name}" (known: ${known}); ${yours}` : `name a scenario: ${known}; or ${yours}`);
        },
      })
      .example('$0 run mergesort --n 4', "the book's distributed merge sort, local vs distributed")
      .example('$0 run currency EURUSD GBPUSD', 'fetch two rates through the workers')
      .example('$0 run echo --repeat 2000', 'round-trip latency')
      .example('$0 run currency --impl lab,celery,rq,pyro', "the chapter's three systems beside the bundled runtime (a lab must be up)")
      .example('$0 run lessons', "the chapter's lessons, one line each (no-worker, purge, exception, …)")
      .example('$0 run smoke --junit reports/junit.xml', 'a quick check for CI: six scenarios, small, with a JUnit file')
      .example('$0 run ./examples/wordcount/scenario.js --help', 'your own scenario: its flags come from its params');
  },
  handler: () => undefined,
};
