/**
 * The `lab` command line. Each command is a thin yargs module that validates and calls its implementation;
 * every error reaches one boundary (error-boundary.ts) that prints one line and picks the exit code.
 */
import { readFileSync } from 'node:fs';
import yargs, { hideBin } from '../vendor/yargs.js';
import { UsageError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { reportError } from './error-boundary.js';
import { skipHelpRenderAfterHandler } from './help-render.js';
import { globalOptions } from './shared-options.js';
import { COMMAND_NAMES, commandsFor } from './command-table.js';

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


export async function main(argv: string[] = hideBin(process.argv)): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  let usageFailure: Error | null = null;
  let commands;
  try {
    commands = await commandsFor(argv);
  } catch (err) {
    return reportError(err, verbose);
  }
  const cli = globalOptions(yargs(argv))
    .scriptName('lab')
    .usage(
      '$0 <command> [options]\n\n' +
        'A lab for distributed task queues: RabbitMQ on HOST1, Redis on HOST2, workers on HOST3, the master on HOST4 — ' +
        'built on namespaces, SSH hosts or containers — and the textbook experiments run on it with honest statistics. ' +
        'Without a lab, `lab run` uses an embedded one on this machine.',
    )
    .command(commands)
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
      usageFailure = err ?? new UsageError(/--help/.test(message) ? message : `${message} (see ${helpCommand(argv, [...COMMAND_NAMES])})`);
      throw usageFailure;
    });
  skipHelpRenderAfterHandler(cli);
  try {
    await cli.parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(usageFailure ?? err, verbose);
  }
}
