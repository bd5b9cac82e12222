/** `lab down`: remove everything the lab's ledger recorded, in reverse; safe to run twice. */
import type { CommandModule } from 'yargs';
import { RunError, UsageError } from '../../errors.js';
import { findLab } from '../../orchestrator/lab-ref.js';
import { stateDir } from '../../topology/state.js';
import { hostsOption } from '../shared-options.js';
import type { GlobalFlags, HostsFlag } from '../shared-options.js';
import { stepPrinter } from '../step-printer.js';

interface DownFlags extends GlobalFlags, HostsFlag {
  lab?: string;
  discover: boolean;
}

export const downCommandModule: CommandModule<GlobalFlags, DownFlags> = {
  command: 'down',
  describe: 'remove everything lab up created (from the ledger, newest first)',
  builder: (y) =>
    hostsOption(y)
      .option('lab', { type: 'string', describe: 'the lab by name (when its inventory is gone or broken)' })
      .option('discover', { type: 'boolean', default: false, describe: "with --lab: also find and remove what a lab of that name made, even when its state is gone — netns (this machine: bridge, namespaces, links, the processes in them, files); with --hosts naming a docker or ssh inventory, its containers and networks (by label) or the processes, units and work directories on its hosts (by the lab's token)" })
      .usage('$0 down [--hosts FILE | --lab NAME]\n\nStops the services and removes namespaces, veths, bridges, files, /etc/hosts blocks, containers — exactly what the ledger recorded, even after `lab up` was killed midway. Reports anything it could not remove.') as never,
  handler: async (argv) => {
    if (argv.discover) {
      if (!argv.lab) throw new UsageError('--discover needs --lab NAME: the name is all it goes by');
      // an inventory says where to look: a docker lab's engine, an ssh lab's hosts (netns without one)
      const topology = argv.hosts ? await (await import('../../topology/inventory.js')).loadInventory(argv.hosts) : undefined;
      if (topology && topology.name !== argv.lab) throw new UsageError(`--lab ${argv.lab} but ${argv.hosts} is the inventory of lab ${topology.name}`);
      const { discoverDown } = await import('../../orchestrator/discover.js');
      const r = await discoverDown({ name: argv.lab, dir: stateDir(argv.lab) }, { progress: stepPrinter(!argv.json, argv.verbose), ...(topology ? { topology } : {}) });
      if (argv.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else {
        for (const n of r.down?.notes ?? []) process.stdout.write(`note: ${n}\n`);
        if (r.down && !r.down.nothing) process.stdout.write(`lab ${r.lab}: the ledger removed ${r.down.removed} thing${r.down.removed === 1 ? '' : 's'}\n`);
        process.stdout.write(`lab ${r.lab}: ${r.summary}\n`);
      }
      if (r.failures.length > 0) throw new RunError(`could not remove ${r.failures.length} thing(s) of lab ${r.lab}:\n${r.failures.map((x) => `  ${x}`).join('\n')}`);
      return;
    }
    const ref = argv.lab ? { name: argv.lab, dir: stateDir(argv.lab) } : await findLab(argv.hosts);
    if (!ref) {
      process.stdout.write(argv.json ? `${JSON.stringify({ lab: null, removed: 0 })}\n` : 'no lab is up (nothing to do)\n');
      return;
    }
    const { labDown } = await import('../../orchestrator/down.js');
    const r = await labDown(ref, { progress: stepPrinter(!argv.json, argv.verbose), hostsFile: argv.hosts });
    if (argv.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else if (r.nothing) process.stdout.write(`lab ${r.lab} is not up (nothing to do)\n`);
    else {
      for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
      process.stdout.write(`lab ${r.lab}: removed ${r.removed} thing${r.removed === 1 ? '' : 's'} in ${(r.durationMs / 1000).toFixed(1)} s\n`);
    }
    if (r.failures.length > 0) {
      throw new RunError(`could not remove ${r.failures.length} thing(s) of lab ${r.lab}:\n${r.failures.map((f) => `  ${f.kind} ${f.key}: ${f.error}`).join('\n')}\n(run lab down again once fixed; the ledger keeps them)`);
    }
  },
};
