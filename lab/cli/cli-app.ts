/**
 * The App a connection command (worker, call, purge, result) works with: the --config module's settings applied,
 * the broker and backend chosen from one place (urls.ts), `-v` told where each came from, and what the command
 * needs (a broker, a backend) checked before anything connects.
 */
import { App } from '../queue/index.js';
import type { AppOptions } from '../queue/index.js';
import { applyConfigModule } from './config-module.js';
import type { ConnectionFlags } from './shared-options.js';
import { requireBackend, requireBroker, resolveUrls, urlSourceLines } from './urls.js';
import type { ConfigUrls, Urls } from './urls.js';

export interface CliAppOptions {
  flags: ConnectionFlags;
  verbose: boolean;
  /** The command sends or consumes tasks (false: `lab result` reads the backend only). */
  needBroker: boolean;
  /** What needs a result backend ("--wait", "lab result"), or null when results are optional. */
  needBackend: string | null;
  app?: Omit<AppOptions, 'broker' | 'backend'>;
  /** Where -v lines go (stderr). */
  write?: (line: string) => void;
}

export async function cliApp(main: string, o: CliAppOptions): Promise<{ app: App; urls: Urls; config: ConfigUrls | null }> {
  const app = new App(main, o.app ?? {});
  const config = o.flags.config ? await applyConfigModule(app, o.flags.config) : null;
  const urls = await resolveUrls(o.flags, { config });
  if (o.verbose) {
    const [brokerLine, backendLine] = urlSourceLines(urls);
    // A command that reads results only (lab result) has no broker to speak of.
    for (const line of o.needBroker ? [brokerLine, backendLine] : [backendLine]) (o.write ?? ((s: string) => process.stderr.write(`${s}\n`)))(line);
  }
  const broker = o.needBroker ? requireBroker(urls) : urls.broker;
  const backend = o.needBackend ? requireBackend(urls, o.needBackend) : urls.backend;
  // A command that only reads results never opens the broker; its URL stays the app's default until then.
  app.configFromObject({ result_backend: backend, ...(broker ? { broker_url: broker } : {}) });
  return { app, urls, config };
}
