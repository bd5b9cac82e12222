/** `lab status`: hosts, services and their health, queue depth, workers online. Exit 1 when something is unhealthy. */
import type { CommandModule } from 'yargs';
import { requireLab } from '../lab-arg.js';
import { hostsOption } from '../shared-options.js';
import type { GlobalFlags, HostsFlag } from '../shared-options.js';

export const statusCommandModule: CommandModule<GlobalFlags, GlobalFlags & HostsFlag> = {
  command: 'status',
  describe: 'show the lab: hosts, services, health, queue depth, workers online',
  builder: (y) => hostsOption(y) as never,
  handler: async (argv) => {
    const [{ labStatus }, { default: Table }] = await Promise.all([import('../../orchestrator/status.js'), import('cli-table3')]);
    const lab = await requireLab(argv.hosts);
    try {
      const { healOpenLab } = await import('../../faults/leftovers.js');
      for (const line of (await healOpenLab(lab)).lines) process.stderr.write(`lab: ${line}\n`);
      const s = await labStatus(lab);
      const { recordedFaults } = await import('../../faults/apply.js');
      const faults = recordedFaults(lab.ledger);
      if (argv.json) {
        process.stdout.write(`${JSON.stringify({ ...s, faults }, null, 2)}\n`);
      } else {
        const style = { head: [], border: [], 'padding-left': 1, 'padding-right': 1 };
        process.stdout.write(`lab ${s.lab} (${s.provider}) — ${s.healthy ? 'healthy' : 'NOT healthy'} · state ${s.status} · inventory ${s.inventory}\n`);
        const hosts = new Table({ head: ['host', 'address', 'roles', 'reachable'], style });
        for (const h of s.hosts) hosts.push([h.name, h.address, h.roles.join(', '), h.reachable ? '✓' : `✗ ${h.detail}`]);
        const services = new Table({ head: ['service', 'host', 'pid', 'supervised', 'restarts', 'last exit', 'health'], style });
        for (const v of s.services) {
          const sup = v.supervision;
          const last = sup?.lastExit ? `${sup.lastExit.signal ?? `code ${sup.lastExit.code}`}${sup.lastExit.at ? ` at ${sup.lastExit.at.slice(11, 19)}` : ''}` : '—';
          const mode = !sup ? '—' : sup.mode === 'lab' ? 'lab' : sup.mode === 'systemd' ? 'systemd' : 'no';
          services.push([v.kind === 'user' ? `${v.service} (own)` : v.service, v.host, v.pid ?? '—', mode, sup && sup.mode !== 'none' ? sup.restarts : '—', last, `${v.healthy ? '✓' : '✗'} ${v.health}`]);
        }
        process.stdout.write(`${hosts.toString()}\n${services.toString()}\n`);
        const unsupervised = [...new Set(s.services.filter((v) => v.supervision?.mode === 'none').map((v) => v.host))];
        if (unsupervised.length > 0) process.stdout.write(`unsupervised on ${unsupervised.join(', ')}: nothing restarts a service that exits there (no lab and no systemd on the host)\n`);
        for (const q of s.queues) process.stdout.write(`queue ${q.name}: ${q.messages} waiting, ${q.consumers === null ? 'consumers unknown' : `${q.consumers} consumer${q.consumers === 1 ? '' : 's'}`}\n`);
        const brokerWhat = s.brokerKind === 'redis' ? ` (Redis${s.versions.redis ? ` ${s.versions.redis}` : ''}, a database of the backend's)` : s.versions.rabbitmq ? ` (RabbitMQ ${s.versions.rabbitmq})` : '';
        process.stdout.write(`broker ${s.broker}${brokerWhat} · backend ${s.backend}${s.versions.redis ? ` (Redis ${s.versions.redis})` : ''}\n`);
        for (const f of faults) process.stdout.write(`fault ${f.id} applied: ${f.text} (since ${f.startedAt}${f.owner === null ? ', held: lab fault heal' : `, by lab process ${f.owner.pid}`})\n`);
        process.stdout.write(`persistence: ${s.persistence === 'aof-everysec' ? "Redis keeps an append-only file, fsync'd every second (results survive a restart)" : 'none: Redis keeps nothing on disk (backend: { persistence: false })'}\n`);
      }
      if (!s.healthy) process.exitCode = 1;
    } finally {
      await lab.provider.close();
    }
  },
};
