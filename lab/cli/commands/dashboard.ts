/** `lab dashboard`: a live page of workers, queues, throughput, latency and failures, fed by Celery events. */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { CONNECTION_HELP, connectionOptions } from '../shared-options.js';
import type { ConnectionFlags, GlobalFlags } from '../shared-options.js';

interface DashboardFlags extends GlobalFlags, ConnectionFlags {
  host: string;
  port: number;
  queues?: string;
}

/**
 * The active lab's faults (its ledger, read without repairing: a running lab command may be writing it), when the
 * broker is the lab's — no URL given by flag, environment or config module.
 */
async function labFaults(argv: DashboardFlags): Promise<(() => Promise<{ id: string; kind: string; text: string; startedAt: string }[]>) | undefined> {
  if (argv.broker || argv.backend || argv.config || process.env.LAB_BROKER_URL || process.env.LAB_BACKEND_URL) return undefined;
  const [{ findLab }, { Ledger }, { recordedFaults }] = await Promise.all([import('../../orchestrator/lab-ref.js'), import('../../topology/ledger.js'), import('../../faults/apply.js')]);
  const lab = await findLab(undefined);
  if (!lab) return undefined;
  return async () => recordedFaults(await Ledger.open(lab.dir, { repair: false }));
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export const dashboardCommandModule: CommandModule<GlobalFlags, DashboardFlags> = {
  command: 'dashboard',
  describe: 'serve a live page of workers, queues, tasks/s, latency and failures (fed by Celery events)',
  builder: (y) =>
    connectionOptions(y)
      .usage(
        `$0 dashboard [options]\n\nListens on loopback and prints a URL with a generated token (only that URL opens the page). The page updates every second from Celery's events: start workers with -E (lab worker -E, celery worker -E) to see tasks; workers show with their heartbeats, pools (asked over remote control) and queues. RabbitMQ or Redis as the broker. Ctrl-C stops it.\n\n${CONNECTION_HELP}`,
      )
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (the page shows task arguments and tracebacks: keep it on loopback, or tunnel to it)' })
      .option('port', { type: 'number', default: 0, describe: 'port to listen on (0: any free port)' })
      .option('queues', { alias: 'Q', type: 'string', describe: "comma-separated queues to show (default: the config's task_default_queue, and those clients send to)" })
      .example('$0 dashboard', "the lab's broker; open the printed URL")
      .example('ssh -L 8555:127.0.0.1:8555 HOST4 lab dashboard --port 8555', 'on a master host, seen from your laptop') as never,
  handler: async (argv) => {
    if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535) throw new UsageError(`--port: expected 0..65535, got ${String(argv.port)}`);
    const queues = argv.queues?.split(',').map((q) => q.trim());
    if (queues?.some((q) => !q)) throw new UsageError(`--queues: empty queue name in ${JSON.stringify(argv.queues)}`);
    const [{ cliApp }, { Dashboard }, { interruptible }] = await Promise.all([import('../cli-app.js'), import('../../dashboard/dashboard-server.js'), import('../interrupt.js')]);
    const { app } = await cliApp('lab-dashboard', { flags: argv, verbose: argv.verbose, needBroker: true, needBackend: null });
    const stop = interruptible();
    const dashboard = new Dashboard({ broker: await app.getBroker(), host: argv.host, port: argv.port, queues: queues ?? [app.config.taskDefaultQueue], faults: await labFaults(argv) });
    dashboard.on('warning', (m) => argv.verbose && process.stderr.write(`lab dashboard: ${m}\n`));
    try {
      await dashboard.start();
      if (!LOOPBACK.test(argv.host)) process.stderr.write(`lab dashboard: listening on ${argv.host}, not loopback: anyone who gets the URL sees task arguments and tracebacks\n`);
      process.stdout.write(argv.json ? `${JSON.stringify({ url: dashboard.url })}\n` : `lab dashboard: ${dashboard.url}\n(Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    } finally {
      stop.dispose();
      await dashboard.close();
      await app.close();
    }
  },
};
