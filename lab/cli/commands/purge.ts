/** `lab purge [-Q queues] [-f]`: drop every waiting task, asking first as `celery purge` does. */
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { CONNECTION_HELP, connectionOptions } from '../shared-options.js';
import type { ConnectionFlags, GlobalFlags } from '../shared-options.js';

interface PurgeFlags extends GlobalFlags, ConnectionFlags {
  queues?: string;
  force: boolean;
}

export const purgeCommandModule: CommandModule<GlobalFlags, PurgeFlags> = {
  command: 'purge',
  describe: 'remove all waiting tasks from the queues (asks first; -f does not)',
  builder: (y) =>
    connectionOptions(y)
      .usage(`$0 purge [-Q queues] [-f]\n\nRemoves every task waiting in the queues, as \`celery purge\` does: it asks first (yes/NO) unless -f. Tasks already taken by a worker are not touched.\n\n${CONNECTION_HELP}`)
      .option('queues', { alias: 'Q', type: 'string', describe: "comma-separated queues (default: the config's task_default_queue, celery)" })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask' })
      .example('$0 purge -f', 'empty the celery queue of the active lab')
      .example('$0 purge -Q queue1,queue2 --config ./config.js', "the queues of the book's routing example, on the config's broker") as never,
  handler: async (argv) => {
    if (argv.queues !== undefined && argv.queues.split(',').some((q) => !q.trim())) throw new UsageError(`--queues: empty queue name in ${JSON.stringify(argv.queues)}`);
    const { cliApp } = await import('../cli-app.js');
    // Where the broker is (and that there is one) is settled before asking; nothing connects until the answer.
    const { app } = await cliApp('lab-purge', { flags: argv, verbose: argv.verbose, needBroker: true, needBackend: null });
    const queues = (argv.queues ?? app.config.taskDefaultQueue).split(',').map((q) => q.trim());
    if (!argv.force) {
      process.stderr.write(`WARNING: This will remove all tasks from queue${queues.length > 1 ? 's' : ''}: ${queues.join(', ')}.\n         There is no undo for this operation!\n\n(to skip this prompt use the -f option)\n\n`);
      if (!process.stdin.isTTY) throw new UsageError('purge asks for confirmation but stdin is not a terminal: pass -f to purge without asking');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question('Are you sure you want to delete all tasks (yes/NO)? ');
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') {
        process.stderr.write('No tasks purged.\n');
        return;
      }
    }
    try {
      const broker = await app.getBroker();
      let total = 0;
      for (const q of queues) {
        await app.ensureQueue(broker, q);
        total += await broker.purge(q);
      }
      const text = `Purged ${total} message${total === 1 ? '' : 's'} from ${queues.length} known task queue${queues.length === 1 ? '' : 's'}.`;
      process.stdout.write(argv.json ? `${JSON.stringify({ purged: total, queues })}\n` : `${text}\n`);
    } finally {
      await app.close();
    }
  },
};
