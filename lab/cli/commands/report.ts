/** `lab report`: render the recorded runs (latest per scenario by default) as a table, JSON, CSV, Markdown or HTML. */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { reportsOption } from '../shared-options.js';
import type { GlobalFlags, ReportsFlag } from '../shared-options.js';
import { REPORT_FORMATS as FORMATS } from '../../report/formats.js';
import type { ReportFormat as Format } from '../../report/formats.js';

interface ReportFlags extends GlobalFlags, ReportsFlag {
  format?: Format;
  last?: number;
  scenario?: string;
  compare?: string[];
  out?: string;
  open: boolean;
  check: boolean;
  max?: string[];
  baseline?: string;
  'max-regression'?: string;
}

export const reportCommandModule: CommandModule<GlobalFlags, ReportFlags> = {
  command: 'report',
  describe: 'show recorded runs: local vs distributed, speed-up, verified',
  builder: (y) =>
    reportsOption(y)
      .usage('$0 report [options]\n\nReads the run records in the reports directory (written by `lab run`) and shows the latest run of each scenario, or the last N runs, or a comparison of two runs.')
      .option('format', { alias: 'f', choices: FORMATS, describe: 'output format (default: table; json with --json)' })
      .option('last', { type: 'number', describe: 'the last N runs instead of the latest per scenario' })
      .option('scenario', { type: 'string', describe: 'only runs of this scenario' })
      .option('compare', { type: 'string', array: true, describe: 'compare two runs (ids, id prefixes or labels): --compare A B' })
      .option('out', { type: 'string', describe: 'write the report to this file instead of stdout' })
      .option('open', { type: 'boolean', default: false, describe: 'write the HTML report and print its path (opens it where a desktop exists)' })
      .option('check', { type: 'boolean', default: false, describe: 'a regression gate over the latest run of each scenario: one line per check, exit 1 if any fails', group: 'Check:' })
      .option('max', { type: 'string', array: true, describe: 'with --check: scenario:modeA/modeB=R — at every point, median(modeA)/median(modeB) ≤ R (repeatable)', group: 'Check:' })
      .option('baseline', { type: 'string', describe: 'with --check: a run record file (or a JSON list of them) or a run id/label to compare the latest runs with', group: 'Check:' })
      .option('max-regression', { type: 'string', describe: "with --baseline: fail a mode whose noise band lies wholly above 1 + P (default 10%); fewer than 3 repeats on either side: 'not enough repeats to judge', not failed", group: 'Check:' })
      .example('$0 report', 'latest run of each scenario')
      .example('$0 report --last 5 --format md', 'the last five runs as a Markdown table')
      .example('$0 report --compare before after', 'two labelled runs side by side, with the noise around the ratios')
      .example('$0 report --format html --out lab.html', 'one self-contained HTML file with charts')
      .example('$0 report --check --max mergesort:distributed/local=2.0', 'exit 1 if distributed takes more than twice local')
      .example('$0 report --check --baseline main.json --max-regression 10%', 'exit 1 if a mode got slower than the baseline by 10% beyond the noise') as never,
  handler: async (argv) => {
    if (argv.last !== undefined && (!Number.isInteger(argv.last) || argv.last < 1)) throw new UsageError(`--last: expected an integer ≥ 1, got ${String(argv.last)}`);
    if (argv.compare && argv.compare.length !== 2) throw new UsageError(`--compare takes two runs (ids or labels), got ${argv.compare.length}`);
    if (argv.check) {
      const { reportCheck } = await import('../report-check.js');
      process.exitCode = await reportCheck({ dir: argv.reports, max: argv.max ?? [], baseline: argv.baseline, maxRegression: argv['max-regression'], json: argv.json });
      return;
    }
    for (const f of ['max', 'baseline', 'max-regression'] as const) if (argv[f] !== undefined) throw new UsageError(`--${f} is for --check (lab report --check --${f} …)`);
    const format: Format = argv.open ? 'html' : (argv.format ?? (argv.json ? 'json' : 'table'));
    const { runReport } = await import('../../report/report.js');
    const result = await runReport({
      dir: argv.reports,
      format,
      last: argv.last,
      scenario: argv.scenario,
      compare: argv.compare as [string, string] | undefined,
      out: argv.out,
    });
    for (const w of result.warnings) process.stderr.write(`lab: warning: ${w}\n`);
    if (result.outPath) {
      process.stdout.write(`${result.outPath}\n`);
      if (argv.open && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) {
        // A desktop: hand the file to its opener; without one, the path above is the answer.
        const { spawn } = await import('node:child_process');
        const opener = spawn('xdg-open', [result.outPath], { detached: true, stdio: 'ignore' });
        opener.on('error', () => process.stderr.write('lab: no xdg-open here; open the file above in a browser\n'));
        opener.unref();
      }
    }
    else process.stdout.write(result.output);
  },
};
