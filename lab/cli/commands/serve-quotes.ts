/** `lab serve-quotes`: the quote server as a process of its own (started by `lab up` on the quotes host). */
import type { CommandModule } from 'yargs';
import type { GlobalFlags } from '../shared-options.js';

interface Flags extends GlobalFlags {
  host: string;
  port: number;
  latency: number;
}

export const serveQuotesCommandModule: CommandModule<GlobalFlags, Flags> = {
  command: 'serve-quotes',
  describe: false, // internal: lab up starts it
  builder: (y) =>
    y
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
      .option('port', { type: 'number', default: 8000, describe: 'port to listen on' })
      .option('latency', { type: 'number', default: 200, describe: 'ms before each answer (a request may override it with latency_ms)' }) as never,
  handler: async (argv) => {
    const { startQuoteServer } = await import('../../services/quote-server.js');
    const server = await startQuoteServer({ host: argv.host, port: argv.port, latencyMs: argv.latency });
    process.stderr.write(`quote server on ${server.url} (${server.template}), latency ${argv.latency} ms\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => void server.close().then(resolve);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  },
};
