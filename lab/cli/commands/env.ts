/**
 * `lab env [HOST]`: the lab's broker and backend URLs — with its credentials, since they are the user's — as shell
 * exports, like `docker-machine env`: `eval "$(lab env)"` on this machine, or `lab env HOST4` for use on a host.
 */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { quote as shellQuote } from '../../providers/shell-quote.js';
import { labEnv } from '../../orchestrator/lab-ref.js';
import { requireLab } from '../lab-arg.js';
import { hostsOption } from '../shared-options.js';
import type { GlobalFlags, HostsFlag } from '../shared-options.js';

export const envCommandModule: CommandModule<GlobalFlags, GlobalFlags & HostsFlag & { host?: string }> = {
  command: 'env [host]',
  describe: 'print the lab URLs (with credentials) as shell exports: eval "$(lab env)"',
  builder: (y) =>
    hostsOption(y)
      .positional('host', { type: 'string', describe: 'the host the variables are for (names resolve there); default: this machine (addresses)' })
      .example('eval "$(lab env)"; python3 -m celery -A tasks worker', 'a Python Celery worker against the lab')
      .example('lab exec HOST4 -- python3 main.py', 'or run it on a lab host, where these are already set') as never,
  handler: async (argv) => {
    const lab = await requireLab(argv.hosts);
    try {
      if (argv.host && !lab.topology.host(argv.host)) throw new UsageError(`no host ${argv.host} in lab ${lab.state.lab} (hosts: ${lab.topology.hosts.map((h) => h.name).join(', ')})`);
      const env = labEnv(lab, argv.host !== undefined);
      if (argv.json) process.stdout.write(`${JSON.stringify(env, null, 2)}\n`);
      else {
        for (const [k, v] of Object.entries(env)) process.stdout.write(`export ${k}=${shellQuote(v)}\n`);
        process.stdout.write(`# Run this command to configure your shell:\n# eval "$(lab env${argv.host ? ` ${argv.host}` : ''})"\n`);
      }
    } finally {
      await lab.provider.close();
    }
  },
};
