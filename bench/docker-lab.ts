/**
 * Benchmark of the docker lab (issue 5), in one run on this machine:
 *  - `lab up` cold (network + 4 containers + RabbitMQ, Redis, quotes, workers, canary), `lab up` again on the
 *    healthy lab (nothing changes), `lab down` (services, containers, network) — medians over --cycles;
 *  - mergesort n=4 of 1,000,000 ints with 2 prefork workers on HOST3: distributed / local on the docker lab, and on
 *    the netns lab in the same run when this machine can make one (root, ip netns) — for comparison.
 * The engine: --socket PATH (an existing Docker/Podman; the inventory's default images), else Podman's
 * Docker-compatible service started here as the tests do (empty image + this machine's /usr, /lib, /bin mounted).
 * Usage: npm run build && node dist/bench/docker-lab.js [--cycles 3] [--repeat 10] [--socket /var/run/docker.sock] [--no-netns]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatMs, formatRatio } from '../lab/report/format.js';
import type { RunRecord } from '../lab/report/run-record.js';
import { labCommand, measureLab, med } from './lab-cycles.js';
import type { LabFigures } from './lab-cycles.js';
import { dockerInventory, podmanMissing, startPodman } from '../support/podman.js';
import type { PodmanService } from '../support/podman.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const CYCLES = Number(arg('--cycles', '3'));
const REPEAT = Number(arg('--repeat', '10'));
const SOCKET = arg('--socket', '');
const home = mkdtempSync(join(tmpdir(), 'lab-bench-docker-'));

const lab = labCommand(home);

function ratioRow(kind: string, rec: RunRecord): string {
  const st = rec.points[0]!.stats;
  const ratio = st.distributed.total.median / st.local.total.median;
  const phases = Object.entries(st.distributed.phases).map(([k, v]) => `${k} ${formatMs(v.median)}`).join(', ');
  return `${kind}: ${formatRatio(ratio)} (distributed ${formatMs(st.distributed.total.median)} ± ${formatMs(st.distributed.total.mad)} [${phases}]; local ${formatMs(st.local.total.median)} ± ${formatMs(st.local.total.mad)})`;
}

let podman: PodmanService | null = null;
try {
  let socket = SOCKET;
  let engine = `the engine at ${SOCKET}`;
  if (!socket) {
    const missing = await podmanMissing();
    if (missing) throw new Error(`cannot start Podman's service: ${missing} (or pass --socket)`);
    podman = await startPodman();
    socket = podman.socket;
    engine = "Podman's Docker-compatible API (podman system service; empty image + host /usr, /lib, /bin mounted)";
  }
  const inv = join(home, 'docker.yaml');
  const text = SOCKET
    ? ['lab: benchdock', 'provider: docker', 'subnet: 198.19.230.0/24', 'docker:', `  socket: ${JSON.stringify(socket)}`, 'defaults: { concurrency: 2, pool: prefork }', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3:', '  HOST4:', ''].join('\n')
    : dockerInventory({ lab: 'benchdock', subnet: '198.19.230.0/24', socket });
  writeFileSync(inv, text);
  const docker = measureLab(lab, { kind: 'docker', inventory: inv, name: 'benchdock', cycles: CYCLES, repeat: REPEAT, reports: join(home, 'reports') });

  let netns: LabFigures | null = null;
  let netnsWhy = '';
  if (process.argv.includes('--no-netns')) netnsWhy = 'skipped (--no-netns)';
  else if (process.getuid?.() !== 0) netnsWhy = 'skipped (needs root)';
  else {
    const ninv = join(home, 'netns.yaml');
    writeFileSync(ninv, ['lab: benchnetns2', 'provider: netns', 'subnet: 198.19.231.0/24', 'defaults: { concurrency: 2, pool: prefork }', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3:', '  HOST4:', ''].join('\n'));
    try {
      netns = measureLab(lab, { kind: 'netns', inventory: ninv, name: 'benchnetns2', cycles: CYCLES, repeat: REPEAT, reports: join(home, 'reports') });
    } catch (err) {
      netnsWhy = `failed: ${(err as Error).message.split('\n')[0]}`;
      lab(['down', '--lab', 'benchnetns2']);
    }
  }

  const env = docker.mergesort.env;
  console.log(`docker lab benchmark · ${engine} · node ${env.node} · ${env.cpus} × ${env.cpuModel} · commit ${env.gitCommit ?? '?'}`);
  console.log(`  lab up, cold (network, 4 containers, RabbitMQ, Redis, quotes, workers, canary): ${med(docker.up)}`);
  console.log(`  lab up again, nothing changes:                                               ${med(docker.reup)}`);
  console.log(`  lab down (services, containers, network):                                    ${med(docker.down)}`);
  if (netns) {
    console.log(`  netns lab, same run: up cold ${med(netns.up)}; up again ${med(netns.reup)}; down ${med(netns.down)}`);
  }
  console.log(`  mergesort n=4, 1M ints, 2 prefork workers on HOST3, distributed / local (median of ${REPEAT}, 2 warm-up):`);
  console.log(`    ${ratioRow('docker lab', docker.mergesort)}`);
  console.log(`    ${netns ? ratioRow('netns lab ', netns.mergesort) : `netns lab: ${netnsWhy}`}`);
} finally {
  await podman?.removeLabs(['benchdock']).catch(() => undefined);
  await podman?.stop();
  rmSync(home, { recursive: true, force: true });
}
