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
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatMs, formatRatio } from '../lab/report/format.js';
import type { RunRecord } from '../lab/report/run-record.js';
import { summarize } from '../lab/report/statistics.js';
import { dockerInventory, podmanMissing, startPodman } from '../support/podman.js';
import type { PodmanService } from '../support/podman.js';

const BIN = fileURLToPath(new URL('../../bin/lab.js', import.meta.url));
const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const CYCLES = Number(arg('--cycles', '3'));
const REPEAT = Number(arg('--repeat', '10'));
const SOCKET = arg('--socket', '');
const home = mkdtempSync(join(tmpdir(), 'lab-bench-docker-'));

interface Ran {
  ms: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

function lab(args: string[]): Ran {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: home, encoding: 'utf8', env: { ...process.env, LAB_HOME: home }, maxBuffer: 256 * 1024 * 1024 });
  return { ms: performance.now() - t0, stdout: r.stdout, stderr: r.stderr, code: r.status };
}

function must(r: Ran, what: string): Ran {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

const med = (xs: number[]): string => {
  const s = summarize(xs);
  return `median ${formatMs(s.median)} (min ${formatMs(s.min)}, max ${formatMs(s.max)}, n=${s.n})`;
};

interface LabFigures {
  up: number[];
  reup: number[];
  down: number[];
  mergesort: RunRecord;
}

/** CYCLES × (up cold, up again, down), then one more up for mergesort, then down. */
function measure(kind: string, inventory: string, name: string): LabFigures {
  const f: Omit<LabFigures, 'mergesort'> = { up: [], reup: [], down: [] };
  for (let i = 0; i < CYCLES; i++) {
    f.up.push(must(lab(['up', '--hosts', inventory]), `${kind} lab up`).ms);
    const again = must(lab(['up', '--hosts', inventory, '--json']), `${kind} lab up (again)`);
    if ((JSON.parse(again.stdout) as { changed: boolean }).changed) throw new Error(`${kind}: a second lab up changed something`);
    f.reup.push(again.ms);
    f.down.push(must(lab(['down', '--lab', name]), `${kind} lab down`).ms);
  }
  must(lab(['up', '--hosts', inventory]), `${kind} lab up`);
  try {
    const rec = JSON.parse(must(lab(['run', 'mergesort', '--n', '4', '--repeat', String(REPEAT), '--warmup', '2', '--json', '--reports', join(home, 'reports')]), `${kind} lab run mergesort`).stdout) as RunRecord;
    return { ...f, mergesort: rec };
  } finally {
    must(lab(['down', '--lab', name]), `${kind} lab down`);
  }
}

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
  const docker = measure('docker', inv, 'benchdock');

  let netns: LabFigures | null = null;
  let netnsWhy = '';
  if (process.argv.includes('--no-netns')) netnsWhy = 'skipped (--no-netns)';
  else if (process.getuid?.() !== 0) netnsWhy = 'skipped (needs root)';
  else {
    const ninv = join(home, 'netns.yaml');
    writeFileSync(ninv, ['lab: benchnetns2', 'provider: netns', 'subnet: 198.19.231.0/24', 'defaults: { concurrency: 2, pool: prefork }', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3:', '  HOST4:', ''].join('\n'));
    try {
      netns = measure('netns', ninv, 'benchnetns2');
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
