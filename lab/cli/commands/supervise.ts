/**
 * `lab supervise <spec>`: lab's supervisor for one service on a host (services/supervisor.ts), started by `lab up`
 * through the provider. Hidden: nobody types it. SIGTERM, SIGINT and SIGHUP stop the service and then the
 * supervisor; it exits 1 when the service's restart policy gave up.
 */
import type { CommandModule } from 'yargs';
import type { GlobalFlags } from '../shared-options.js';

interface Flags extends GlobalFlags {
  spec: string;
}

export const superviseCommandModule: CommandModule<GlobalFlags, Flags> = {
  command: 'supervise <spec>',
  describe: false, // internal: lab up starts it
  builder: (y) => y.positional('spec', { type: 'string', demandOption: true, describe: 'the supervisor spec file (JSON)' }) as never,
  handler: async (argv) => {
    const { readSupervisorSpec, runSupervisor } = await import('../../services/supervisor.js');
    const spec = await readSupervisorSpec(argv.spec);
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, stop);
    try {
      process.exitCode = await runSupervisor(spec, { signal: controller.signal });
    } finally {
      for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.off(s, stop);
    }
  },
};
