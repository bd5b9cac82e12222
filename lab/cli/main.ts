/**
 * The `lab` command line. Each command is a thin yargs module that validates and calls its implementation;
 * every error reaches one boundary (error-boundary.ts) that prints one line and picks the exit code.
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { reportError } from './error-boundary.js';
import { globalOptions } from './shared-options.js';
import type { GlobalFlags } from './shared-options.js';
import type { CommandModule } from 'yargs';
import { runCommandModule } from './commands/run.js';
import { reportCommandModule } from './commands/report.js';
import { workerCommandModule } from './commands/worker.js';
import { callCommandModule } from './commands/call.js';
import { purgeCommandModule } from './commands/purge.js';
import { resultCommandModule } from './commands/result.js';
import { initCommandModule } from './commands/init.js';
import { upCommandModule } from './commands/up.js';
import { downCommandModule } from './commands/down.js';
import { statusCommandModule } from './commands/status.js';
import { logsCommandModule } from './commands/logs.js';
import { execCommandModule } from './commands/exec.js';
import { envCommandModule } from './commands/env.js';
import { linkProxyCommandModule } from './commands/link-proxy.js';
import { serveQuotesCommandModule } from './commands/serve-quotes.js';
import { superviseCommandModule } from './commands/supervise.js';
import { faultCommandModule } from './commands/fault.js';
import { imagesCommandModule } from './commands/images.js';
import { inspectCommandModule } from './commands/inspect.js';
import { controlCommandModule } from './commands/control.js';
import { dashboardCommandModule } from './commands/dashboard.js';

/** `lab run mergesort --help` for `lab run mergesort --bogus`: the command words before the first flag. */
function helpCommand(argv: string[], commands: string[]): string {
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-') || words.length === 2 || (words.length === 0 && !commands.includes(a))) break;
    words.push(a);
  }
  return ['lab', ...words, '--help'].join(' ');
}

function labVersion(): string {
  try {
    return (JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const COMMANDS = [initCommandModule, upCommandModule, statusCommandModule, runCommandModule, reportCommandModule, logsCommandModule, execCommandModule, envCommandModule, downCommandModule, workerCommandModule, callCommandModule, resultCommandModule, purgeCommandModule, inspectCommandModule, controlCommandModule, dashboardCommandModule, serveQuotesCommandModule, linkProxyCommandModule, superviseCommandModule, faultCommandModule, imagesCommandModule] as CommandModule<GlobalFlags, GlobalFlags>[];

export async function main(argv: string[] = hideBin(process.argv)): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  let usageFailure: Error | null = null;
  const cli = globalOptions(yargs(argv))
    .scriptName('lab')
    .usage(
      '$0 <command> [options]\n\n' +
        'A lab for distributed task queues: RabbitMQ on HOST1, Redis on HOST2, workers on HOST3, the master on HOST4 — ' +
        'built on namespaces, SSH hosts or containers — and the textbook experiments run on it with honest statistics. ' +
        'Without a lab, `lab run` uses an embedded one on this machine.',
    )
    .command(COMMANDS)
    .demandCommand(1, 'name a command (lab --help lists them)')
    .strict()
    .help()
    .alias('help', 'h')
    // lab's own version: yargs alone would find the package.json of the directory lab runs in (a user's package)
    .version(labVersion())
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .epilogue('Docs: README.md. Exit codes: 0 ok, 1 a run failed, 2 a usage or configuration error, 130 interrupted.')
    .fail((message, err) => {
      // yargs validation (unknown flag, missing argument) or an error thrown by a handler.
      usageFailure = err ?? new UsageError(/--help/.test(message) ? message : `${message} (see ${helpCommand(argv, COMMANDS.map((c) => String(c.command).split(' ')[0]))})`);
      throw usageFailure;
    });
  try {
    await cli.parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(usageFailure ?? err, verbose);
  }
}
