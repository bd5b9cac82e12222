/** `lab purge [-Q queues] [-f]`: drop every waiting task, asking first as `celery purge` does. */
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { resolveUrls } from '../urls.js';
import { connectionOptions } from '../shared-options.js';
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
      .option('queues', { alias: 'Q', type: 'string', describe: 'comma-separated queues (default: celery)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask' }) as never,
  handler: async (argv) => {
    const queues = (argv.queues ?? 'celery').split(',').map((q) => q.trim());
    if (queues.some((q) => !q)) throw new UsageError(`--queues: empty queue name in ${JSON.stringify(argv.queues)}`);
    const urls = await resolveUrls(argv);
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
    const { App } = await import('../../queue/index.js');
    const app = new App('lab-purge', { broker: urls.broker, backend: null });
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
