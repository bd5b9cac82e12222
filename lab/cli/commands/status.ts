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
    const [{ labStatus }, { default: Table }] = await Promise.all([import('../../orchestrator/status.js'), import('../../vendor/cli-table3.js')]);
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
          services.push([v.kind === 'user' ? `${v.service} (own)` : v.kind === 'external' ? `${v.service} (external)` : v.service, v.host, v.pid ?? '—', mode, sup && sup.mode !== 'none' ? sup.restarts : '—', last, `${v.healthy ? '✓' : '✗'} ${v.health}`]);
        }
        process.stdout.write(`${hosts.toString()}\n${services.toString()}\n`);
        const unsupervised = [...new Set(s.services.filter((v) => v.supervision?.mode === 'none').map((v) => v.host))];
        if (unsupervised.length > 0) process.stdout.write(`unsupervised on ${unsupervised.join(', ')}: nothing restarts a service that exits there (no lab and no systemd on the host)\n`);
        if (s.workers) {
          // Who answered a remote-control ping (lab and Python workers), with their pools and what they run now.
          const workers = new Table({ head: ['worker', 'pool', 'concurrency', 'processed', 'active tasks'], style });
          for (const w of s.workers) workers.push([w.hostname, w.pool ?? '—', w.concurrency ?? '—', w.processed ?? '—', w.active.length ? w.active.map((t) => `${t.name}[${t.id.slice(0, 8)}]`).join('\n') : '—']);
          process.stdout.write(s.workers.length ? `${workers.toString()}\n` : 'workers: none answered a ping\n');
        }
        for (const q of s.queues) process.stdout.write(`queue ${q.name}: ${q.messages} waiting, ${q.consumers === null ? 'consumers unknown' : `${q.consumers} consumer${q.consumers === 1 ? '' : 's'}`}\n`);
        const brokerWhat = s.brokerKind === 'redis' ? ` (Redis${s.versions.redis ? ` ${s.versions.redis}` : ''}, a database of the backend's)` : s.versions.rabbitmq ? ` (RabbitMQ ${s.versions.rabbitmq})` : '';
        process.stdout.write(`broker ${s.broker}${brokerWhat} · backend ${s.backend}${s.versions.redis ? ` (Redis ${s.versions.redis})` : ''}\n`);
        for (const f of faults) process.stdout.write(`fault ${f.id} applied: ${f.text} (since ${f.startedAt}${f.owner === null ? ', held: lab fault heal' : `, by lab process ${f.owner.pid}`})\n`);
        if (s.links === 'proxy') process.stdout.write("links: through lab's link proxy on each service host (slow-link faults shape them)\n");
        process.stdout.write(`persistence: ${s.persistence === 'external' ? "the external backend's own settings (lab does not run it)" : s.persistence === 'aof-everysec' ? "Redis keeps an append-only file, fsync'd every second (results survive a restart)" : 'none: Redis keeps nothing on disk (backend: { persistence: false })'}\n`);
      }
      if (!s.healthy) process.exitCode = 1;
    } finally {
      await lab.provider.close();
    }
  },
};
