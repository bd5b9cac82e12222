/**
 * Benchmark of role images (issue 15), in one run on this machine, through Podman's Docker-compatible API:
 *  - `lab images build` cold (an empty cache: debootstrap of the three root filesystems from the Debian mirror, Node
 *    from the npm registry, import), again (everything on the engine: nothing to do), and after a new lab bundle
 *    (the node image dropped from the engine: its root filesystem from the cache) — the per-commit CI case; image sizes;
 *  - `lab up` cold / again / `lab down` on the built images (nothing mounted) vs the empty image with this machine's
 *    /usr, /lib, /bin mounted, medians over --cycles, and mergesort n=4 of 1,000,000 ints distributed / local on both.
 * Usage: npm run build && node dist/bench/images.js [--cycles 3] [--repeat 5] [--cache DIR (reuse: not cold)] [--parts build,lab]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { BuildResult } from '../lab/images/build.js';
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
const REPEAT = Number(arg('--repeat', '5'));
const PARTS = arg('--parts', 'build,lab').split(',');
const home = mkdtempSync(join(tmpdir(), 'lab-bench-images-'));
const CACHE = arg('--cache', '') || mkdtempSync(join('/var/tmp', 'lab-bench-images-cache-'));

interface Ran {
  ms: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

function lab(args: string[]): Ran {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: home, encoding: 'utf8', env: { ...process.env, LAB_HOME: home, LAB_CACHE_DIR: CACHE }, maxBuffer: 256 * 1024 * 1024 });
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
  return `${kind}: ${formatRatio(ratio)} (distributed ${formatMs(st.distributed.total.median)} ± ${formatMs(st.distributed.total.mad)}; local ${formatMs(st.local.total.median)} ± ${formatMs(st.local.total.mad)})`;
}

function build(socket: string, what: string): { r: BuildResult; ms: number } {
  const ran = must(lab(['images', 'build', '--socket', socket, '--json']), `lab images build (${what})`);
  return { r: JSON.parse(ran.stdout) as BuildResult, ms: ran.ms };
}

let podman: PodmanService | null = null;
try {
  const missing = await podmanMissing();
  if (missing) throw new Error(`cannot start Podman's service: ${missing}`);
  podman = await startPodman();
  const socket = podman.socket;
  const lines: string[] = [];
  let refs: BuildResult | null = null;
  if (PARTS.includes('build')) {
    // cold when the cache holds no root filesystem and the engine none of these images: each line says which it was
    const cold = build(socket, 'cold');
    const again = build(socket, 'again');
    const node = cold.r.images.find((i) => i.kind === 'node')!;
    await podman.engine.removeImage(node.ref);
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
    const b = measure('built images', built, 'benchimg');
    const e = measure('empty image', empty, 'benchimgempty');
    lines.push(`  lab up cold: built images ${med(b.up)}; empty image + host mounts ${med(e.up)}`);
    lines.push(`  lab up again: built ${med(b.reup)}; empty ${med(e.reup)}`);
    lines.push(`  lab down: built ${med(b.down)}; empty ${med(e.down)}`);
    lines.push(`  mergesort n=4, 1M ints, 2 prefork workers, distributed / local (median of ${REPEAT}, 2 warm-up):`);
    lines.push(`    ${ratioRow('built images', b.mergesort)}`);
    lines.push(`    ${ratioRow('empty image ', e.mergesort)}`);
  }
  console.log(`role images benchmark · Podman's Docker-compatible API · load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const l of lines) console.log(l);
} finally {
  await podman?.removeLabs(['benchimg', 'benchimgempty']).catch(() => undefined);
  await podman?.stop();
  rmSync(home, { recursive: true, force: true });
  if (!arg('--cache', '')) rmSync(CACHE, { recursive: true, force: true });
}
