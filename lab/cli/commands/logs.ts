/** `lab logs [HOST] [SERVICE] [--follow]`: the services' logs — lab's and the hosts' own — from the hosts they run on. */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import type { ProcessRef } from '../../providers/provider.js';
import { requireLab } from '../lab-arg.js';
import { hostsOption } from '../shared-options.js';
import type { GlobalFlags, HostsFlag } from '../shared-options.js';

interface LogsFlags extends GlobalFlags, HostsFlag {
  host?: string;
  name?: string;
  service?: string;
  follow: boolean;
  lines: number;
}

export const logsCommandModule: CommandModule<GlobalFlags, LogsFlags> = {
  command: 'logs [host] [name]',
  describe: "show the services' logs (rabbitmq, redis, quotes, workers, and the hosts' own services:)",
  builder: (y) =>
    hostsOption(y)
      .positional('host', { type: 'string', describe: 'only this host' })
      .positional('name', { type: 'string', describe: 'only this service (rabbitmq, redis, quotes, workers, or one of the host\'s services:)' })
      .option('service', { alias: 's', type: 'string', describe: 'only this service (the same as NAME)' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing new lines (Ctrl-C to stop)' })
      .option('lines', { alias: 'n', type: 'number', default: 40, describe: 'lines of each log to show first' }) as never,
  handler: async (argv) => {
    if (!Number.isInteger(argv.lines) || argv.lines < 0) throw new UsageError(`--lines: expected an integer ≥ 0, got ${String(argv.lines)}`);
    const [{ recordedProcess, placements }, { userLogFiles, userPlacements, userRuns }] = await Promise.all([import('../../orchestrator/services.js'), import('../../services/user-services.js')]);
    const lab = await requireLab(argv.hosts);
    try {
      if (argv.host && !lab.topology.host(argv.host)) throw new UsageError(`no host ${argv.host} in lab ${lab.state.lab} (hosts: ${lab.topology.hosts.map((h) => h.name).join(', ')})`);
      if (argv.name && argv.service && argv.name !== argv.service) throw new UsageError(`two services named: ${argv.name} and --service ${argv.service}`);
      const wanted = argv.name ?? argv.service;
      const onHost = (h: string): boolean => !argv.host || h.toLowerCase() === argv.host.toLowerCase();
      const known = new Set<string>();
      const logs: { label: string; ref: Pick<ProcessRef, 'host' | 'logFile'> }[] = [];
      for (const p of placements(lab.topology)) {
        if (!onHost(p.host.name)) continue;
        known.add(p.service.name);
        if (wanted && p.service.name !== wanted) continue;
        const ref = recordedProcess(lab.ledger, p);
        if (ref) logs.push({ label: `${p.host.name} ${p.service.name}`, ref });
      }
      for (const u of userPlacements(lab.topology)) {
        if (!onHost(u.host.name)) continue;
        known.add(u.spec.name);
        if (wanted && u.spec.name !== wanted) continue;
        if (!userRuns(lab, u).some((r) => lab.ledger.get(r.key))) continue; // never started
        const files = userLogFiles(lab, u);
        for (const [i, logFile] of files.entries()) logs.push({ label: `${u.host.name} ${u.spec.name}${files.length > 1 && i > 0 ? `#${i - 1}` : ''}`, ref: { host: u.host.name, logFile } });
      }
      if (wanted && !known.has(wanted)) throw new UsageError(`no service ${wanted}${argv.host ? ` on ${argv.host}` : ''} (services: ${[...known].join(', ') || 'none'})`);
      if (logs.length === 0) throw new UsageError('no such log: that service has not been started on that host');
      const sizes = new Map<string, number>();
      for (const { label, ref } of logs) {
        const tail = (await lab.provider.readFile(ref.host, ref.logFile, { tailBytes: 200 * Math.max(argv.lines, 1) })).toString('utf8');
        const lines = tail.split('\n').slice(-argv.lines);
        if (logs.length > 1 || !argv.follow) process.stdout.write(`==> ${label} (${ref.logFile}) <==\n`);
        if (argv.lines > 0) process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!argv.follow) return;
      // Following: remember where each log ends now (the provider has no stat, so this reads each file once).
      for (const { label, ref } of logs) sizes.set(label, (await lab.provider.readFile(ref.host, ref.logFile)).length);
      let stop = false;
      process.once('SIGINT', () => (stop = true));
      while (!stop) {
        await new Promise((r) => setTimeout(r, 500));
        for (const { label, ref } of logs) {
          const buf = await lab.provider.readFile(ref.host, ref.logFile).catch(() => null);
          if (!buf) continue;
          const seen = sizes.get(label) ?? 0;
          if (buf.length > seen) {
            const fresh = buf.subarray(seen).toString('utf8');
            process.stdout.write(logs.length > 1 ? fresh.replace(/^(?=.)/gm, `${label} | `) : fresh);
            sizes.set(label, buf.length);
          }
        }
      }
    } finally {
      await lab.provider.close();
    }
  },
};
