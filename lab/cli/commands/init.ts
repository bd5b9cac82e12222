/** `lab init [--provider local|netns|docker|ssh]`: write a commented ./hosts.yaml for that provider; never overwrite. */
import type { CommandModule } from 'yargs';
import type { GlobalFlags } from '../shared-options.js';
import { INIT_PROVIDERS } from '../init-inventory.js';
import type { InitProvider } from '../init-inventory.js';

interface InitFlags extends GlobalFlags {
  provider: string;
}

const NEXT: Record<InitProvider, string> = {
  local: 'lab up',
  netns: 'sudo lab up  (network namespaces need root)',
  docker: 'lab up  (needs a Docker Engine API: Docker, or Podman\'s service)',
  ssh: 'put in your machines\' addresses, user and key, then lab up --install',
};

export const initCommandModule: CommandModule<GlobalFlags, InitFlags> = {
  command: 'init',
  describe: 'write a commented ./hosts.yaml (the book\'s HOST1–HOST4) for a provider',
  builder: (y) =>
    y
      .usage(
        '$0 init [--provider local|netns|docker|ssh]\n\nWrites ./hosts.yaml: the book\'s four machines — RabbitMQ on HOST1, Redis on HOST2, workers on HOST3, the master on HOST4 — ' +
          'for the provider you choose, every field explained in a comment. It never overwrites a file. Then `lab up` (or `lab up --hosts hosts.yaml`) brings the lab up.',
      )
      .option('provider', {
        alias: 'p',
        type: 'string',
        choices: INIT_PROVIDERS as unknown as string[],
        default: 'local',
        describe: 'local: child processes on this machine (no root) · netns: network namespaces (root) · docker: containers · ssh: your machines',
      })
      .example('$0 init && $0 up', 'a lab of child processes on this machine, no root')
      .example('$0 init --provider netns && sudo $0 up', "the book's four hosts as network namespaces")
      .example('$0 init --provider ssh', 'four Raspberry Pis or VMs: fill in the addresses, then lab up --install') as never,
  handler: async (argv) => {
    const { writeInventory } = await import('../init-inventory.js');
    const provider = argv.provider as InitProvider;
    const file = await writeInventory(provider);
    if (argv.json) process.stdout.write(`${JSON.stringify({ file, provider })}\n`);
    else process.stdout.write(`wrote ${file} (provider ${provider}; every field is explained in it)\nnext: ${NEXT[provider]}\n`);
  },
};
