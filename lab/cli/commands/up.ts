/**
 * `lab up [--hosts FILE]`: build the lab the inventory describes (idempotent; --dry-run prints the plan). Without
 * --hosts: the active lab's inventory, else ./hosts.yaml (lab init writes one) — up-inventory.ts.
 */
import type { CommandModule } from 'yargs';
import { InterruptedError, maskUrl } from '../../errors.js';
import { labUrls } from '../../orchestrator/lab-ref.js';
import { stateTopology } from '../../topology/state.js';
import { hostsOption } from '../shared-options.js';
import type { GlobalFlags, HostsFlag } from '../shared-options.js';
import { stepPrinter } from '../step-printer.js';

interface UpFlags extends GlobalFlags, HostsFlag {
  'dry-run': boolean;
  install: boolean;
}

export const upCommandModule: CommandModule<GlobalFlags, UpFlags> = {
  command: 'up',
  describe: 'build the lab an inventory describes: hosts, /etc/hosts, RabbitMQ, Redis, workers',
  builder: (y) =>
    hostsOption(y, "the active lab's inventory, else ./hosts.yaml")
      .usage('$0 up [--hosts FILE] [options]\n\nWhich inventory: --hosts FILE; else the active lab\'s own (a re-up); else ./hosts.yaml (`lab init` writes one). Brings up the hosts (local processes, network namespaces, SSH machines or containers), writes /etc/hosts on each, starts RabbitMQ (a generated user and password — never guest; not with broker: { kind: redis }), Redis (requirepass, an append-only file), the quote server, the workers and the hosts\' own services: (supervised: one that exits is started again), and checks each in layers: port, protocol, a canary task. Running it again on a healthy lab changes nothing. Credentials go to a 0600 state file under ~/.lab/<lab>/.')
      .option('dry-run', { type: 'boolean', default: false, describe: 'print the plan, change nothing' })
      .option('install', { type: 'boolean', default: false, describe: "ssh: apt-get install missing rabbitmq-server / redis-server on their hosts, and bring Node 20 (the npm registry's node-linux-<arch>, for lab's processes only) where a host lacks Node ≥ 20" })
      .example('$0 init && $0 up', 'write a commented ./hosts.yaml (local provider), then bring it up')
      .example('$0 up --hosts hosts.yaml', 'the inventory named')
      .example('$0 up --hosts hosts/netns.yaml', 'four network namespaces on this machine (root)')
      .example('$0 up --hosts hosts/local.yaml', 'everything as child processes, no root')
      .example('$0 up --hosts hosts/raspberry-pi.example.yaml --install', 'four Pis over SSH') as never,
  handler: async (argv) => {
    const [{ labUp, planUp }, { resolveUpInventory }] = await Promise.all([import('../../orchestrator/up.js'), import('../up-inventory.js')]);
    const inventory = await resolveUpInventory(argv.hosts);
    if (inventory.source !== 'flag' && !argv.json) {
      process.stderr.write(`inventory ${inventory.file} (${inventory.source === 'active-lab' ? `the active lab "${inventory.lab}"` : 'found here; --hosts names another'})\n`);
    }
    if (argv['dry-run']) {
      const { topology, steps } = await planUp(inventory.file);
      if (argv.json) {
        process.stdout.write(`${JSON.stringify({ lab: topology.name, provider: topology.provider, inventory: inventory.file, steps }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`lab ${topology.name} (${topology.provider}) — plan, nothing changed:\n`);
      for (const s of steps) process.stdout.write(`  ${(s.host ?? 'lab').padEnd(8)} ${s.step}: ${s.detail}\n`);
      return;
    }
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      const running = labUp({ hostsFile: inventory.file, progress: stepPrinter(!argv.json, argv.verbose), signal: controller.signal, install: argv.install });
      // Ctrl-C answers at once: what was made is in the ledger (recorded before it was made), for lab down.
      const interrupted = new Promise<never>((_, reject) =>
        controller.signal.addEventListener('abort', () => reject(new InterruptedError('interrupted: the lab is partly up — `lab down` removes what was made, `lab up` carries on')), { once: true }),
      );
      running.catch(() => undefined);
      const r = await Promise.race([running, interrupted]);
      const urls = labUrls(r.state, stateTopology(r.state));
      if (argv.json) {
        process.stdout.write(`${JSON.stringify({ lab: r.lab, provider: r.provider, inventory: inventory.file, changed: r.changed, durationMs: Math.round(r.durationMs), broker: maskUrl(urls.brokerHere), backend: maskUrl(urls.backendHere), versions: r.versions }, null, 2)}\n`);
        return;
      }
      const took = `${(r.durationMs / 1000).toFixed(1)} s`;
      process.stdout.write(r.changed ? `lab ${r.lab} is up (${r.provider}, ${took})\n` : `lab ${r.lab} was already up; nothing changed (${took})\n`);
      const redisBroker = urls.brokerInLab.startsWith('redis');
      process.stdout.write(`  broker   ${maskUrl(urls.brokerInLab)}${redisBroker ? `  (Redis${r.versions.redis ? ` ${r.versions.redis}` : ''}: the backend's, a database of its own)` : r.versions.rabbitmq ? `  (RabbitMQ ${r.versions.rabbitmq})` : ''}\n`);
      process.stdout.write(`  backend  ${maskUrl(urls.backendInLab)}${r.versions.redis ? `  (Redis ${r.versions.redis})` : ''}\n`);
      process.stdout.write(`next: lab run mergesort --n 4 · lab status · lab env (the URLs with credentials) · lab down\n`);
    } finally {
      process.off('SIGINT', onSignal);
    }
  },
};
