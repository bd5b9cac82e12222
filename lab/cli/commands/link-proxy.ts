/**
 * `lab link-proxy <spec>`: lab's link proxy on a service host of a `links: proxy` lab (services/link-proxy.ts),
 * started by `lab up` under lab's supervisor. Hidden: nobody types it. SIGTERM, SIGINT and SIGHUP close it.
 */
import { readFile } from 'node:fs/promises';
import type { CommandModule } from 'yargs';
import type { GlobalFlags } from '../shared-options.js';

interface Flags extends GlobalFlags {
  spec: string;
}

export const linkProxyCommandModule: CommandModule<GlobalFlags, Flags> = {
  command: 'link-proxy <spec>',
  describe: false, // internal: lab up starts it
  builder: (y) => y.positional('spec', { type: 'string', demandOption: true, describe: 'the proxy spec file (JSON)' }) as never,
  handler: async (argv) => {
    const { startLinkProxy } = await import('../../services/link-proxy.js');
    const spec = JSON.parse(await readFile(argv.spec, 'utf8')) as Parameters<typeof startLinkProxy>[0];
    const proxy = await startLinkProxy(spec, (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
    await new Promise<void>((resolve) => {
      const stop = (): void => void proxy.close().then(resolve);
      for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(s, stop);
    });
  },
};
