/** `lab control <command> [args…]`: tell workers (lab's and Python's) what to do, like `celery control`. */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { CONTROL_COMMANDS } from '../remote-commands.js';
import { CONNECTION_HELP } from '../shared-options.js';
import type { GlobalFlags } from '../shared-options.js';
import { parseRemoteFlags, remoteOptions } from './inspect.js';
import type { RemoteFlags } from './inspect.js';

interface ControlFlags extends RemoteFlags {
  terminate?: boolean;
  signal?: string;
}

const list = Object.entries(CONTROL_COMMANDS).map(([n, s]) => `  ${n.padEnd(16)}${s.help}`).join('\n');

export const controlCommandModule: CommandModule<GlobalFlags, ControlFlags> = {
  command: 'control <command> [args..]',
  describe: 'tell workers what to do (like celery control): revoke, pool_grow, shutdown…',
  builder: (y) =>
    remoteOptions(y)
      .usage(`$0 control <command> [args..] [options]\n\nBroadcasts on Celery's remote-control mailbox (RabbitMQ); lab and Python workers obey alike. A revoked task that has not arrived yet is discarded when it does. --terminate stops a running task: prefork and threads pools kill it; the async pool can only abort its signal, and its reply says so. Exit 1 when no worker replied in time.\n\nCommands:\n${list}\n\n${CONNECTION_HELP}`)
      .positional('command', { type: 'string', describe: 'what to do' })
      .positional('args', { type: 'string', array: true, describe: "the command's arguments" })
      .option('terminate', { type: 'boolean', describe: 'revoke: also stop the task if it runs' })
      .option('signal', { type: 'string', describe: 'revoke --terminate: the signal (default SIGTERM)' })
      .example('$0 control revoke 1b2c… --terminate', 'stop a running task')
      .example('$0 control pool_grow 2 -d celery@HOST3', 'two more pool children on one worker')
      .example('$0 control rate_limit mergesort.sort 10/m', 'at most 10 sorts a minute on each worker (0: no limit)')
      .example('$0 control shutdown -d celery@HOST3', 'warm shutdown of one worker') as never,
  handler: async (argv) => {
    const flags = parseRemoteFlags(argv);
    if ((argv.terminate !== undefined || argv.signal !== undefined) && argv.command !== 'revoke') throw new UsageError('--terminate and --signal go with revoke');
    if (argv.signal !== undefined && !argv.terminate) throw new UsageError('--signal needs --terminate');
    const extra = argv.terminate ? { terminate: true, signal: argv.signal ?? 'SIGTERM' } : undefined;
    const { runRemoteCommand, printReplies } = await import('../remote-control.js');
    const replies = await runRemoteCommand({ kind: 'control', command: argv.command, ...flags, extra, json: argv.json, verbose: argv.verbose, connection: argv });
    printReplies('control', replies, argv.json);
  },
};
