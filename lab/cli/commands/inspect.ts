/** `lab inspect <command> [args…]`: ask workers (lab's and Python's) over Celery's remote control, like `celery inspect`. */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { INSPECT_COMMANDS } from '../remote-commands.js';
import { CONNECTION_HELP, connectionOptions } from '../shared-options.js';
import type { ConnectionFlags, GlobalFlags } from '../shared-options.js';

export interface RemoteFlags extends GlobalFlags, ConnectionFlags {
  command: string;
  args?: string[];
  destination?: string;
  timeout: number;
}

/** -d / -t, shared by inspect and control. */
export function remoteOptions<T>(y: Argv<T>): Argv<T & ConnectionFlags & { destination?: string; timeout: number }> {
  return connectionOptions(y)
    .option('destination', { alias: 'd', type: 'string', describe: 'comma-separated node names (default: every worker)' })
    .option('timeout', { alias: 't', type: 'number', default: 1, describe: 'seconds to wait for replies' });
}

export function parseRemoteFlags(argv: RemoteFlags): { destination?: string[]; timeoutS: number; positionals: string[] } {
  if (!(argv.timeout > 0)) throw new UsageError(`--timeout: expected seconds > 0, got ${String(argv.timeout)}`);
  const destination = argv.destination?.split(',').map((d) => d.trim());
  if (destination?.some((d) => !d)) throw new UsageError(`--destination: empty node name in ${JSON.stringify(argv.destination)}`);
  return { destination, timeoutS: argv.timeout, positionals: (argv.args ?? []).map(String) };
}

const list = (specs: Record<string, { help: string }>): string => Object.entries(specs).map(([n, s]) => `  ${n.padEnd(16)}${s.help}`).join('\n');

export const inspectCommandModule: CommandModule<GlobalFlags, RemoteFlags> = {
  command: 'inspect <command> [args..]',
  describe: 'ask workers what they are doing (like celery inspect): ping, stats, active, registered…',
  builder: (y) =>
    remoteOptions(y)
      .usage(`$0 inspect <command> [args..] [options]\n\nBroadcasts on Celery's remote-control mailbox (RabbitMQ) and prints each worker's reply; lab and Python workers answer alike. Exit 1 when no worker replied in time.\n\nCommands:\n${list(INSPECT_COMMANDS)}\n\n${CONNECTION_HELP}`)
      .positional('command', { type: 'string', describe: 'what to ask' })
      .positional('args', { type: 'string', array: true, describe: "the command's arguments" })
      .example('$0 inspect ping', 'which workers are there')
      .example('$0 inspect active -d celery@HOST3', 'what one worker runs now')
      .example('$0 inspect stats --json', 'pool, tasks processed, rusage, as JSON') as never,
  handler: async (argv) => {
    const flags = parseRemoteFlags(argv);
    const { runRemoteCommand, printReplies } = await import('../remote-control.js');
    const replies = await runRemoteCommand({ kind: 'inspect', command: argv.command, ...flags, json: argv.json, verbose: argv.verbose, connection: argv });
    printReplies('inspect', replies, argv.json);
  },
};
