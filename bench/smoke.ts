/**
 * How long `lab run smoke` takes on this machine (issue 14: "fast enough for every push — say how long"), measured
 * in one run as a CI job meets it:
 *  1. `lab run smoke` on the embedded lab (whole process, wall time), RUNS times;
 *  2. the example CI job's lab on the local provider with this machine's RabbitMQ and Redis as existing services
 *     (a vhost and user of their own, removed after): `lab up`, `lab run smoke` (RUNS times), `lab down`.
 * Also the full-size run of the same scenarios for scale: the ratio smoke / full says what smoke mode saves.
 * Usage (root, for rabbitmqctl): npm run build && node dist/bench/smoke.js [--runs 3]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { summarize } from '../lab/report/statistics.js';
import { formatRatio } from '../lab/report/format.js';
import { generateSecret } from '../lab/topology/state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'lab.js');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const work = mkdtempSync(join(tmpdir(), 'lab-bench-smoke-'));
const id = randomBytes(3).toString('hex');
const vhost = `lab-bench-${id}`;
const password = generateSecret();
const env = { ...process.env, LAB_HOME: join(work, 'home'), LAB_REPORTS_DIR: join(work, 'reports') };

function lab(args: string[], extra: NodeJS.ProcessEnv = {}): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...env, ...extra }, maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.status}: ${r.stdout}\n${r.stderr}`);
  return ms / 1000;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, HOME: '/var/lib/rabbitmq' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

const s = (xs: number[]): string => {
  const m = summarize(xs);
  return `median ${m.median.toFixed(1)} s (min ${m.min.toFixed(1)}, max ${m.max.toFixed(1)}, n=${m.n})`;
};

const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const lines: string[] = [`# lab run smoke on this machine (load average ${load()}, ${RUNS} runs each)`];
let up = false;
try {
  lab(['run', 'smoke', '--embedded']); // warm the file cache
  const embedded = Array.from({ length: RUNS }, () => lab(['run', 'smoke', '--embedded']));
  lines.push(`embedded lab:            lab run smoke ${s(embedded)}`);
  const full = lab(['run', 'echo', '--embedded']) + lab(['run', 'currency', '--embedded']) + lab(['run', 'mergesort', '--embedded']) + lab(['run', 'lessons', 'exception', 'retry', 'purge', '--embedded']);
  lines.push(`embedded lab, the same six at full size (defaults): ${full.toFixed(1)} s — smoke/full ${formatRatio(summarize(embedded).median / full)}`);

  sh('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  sh('rabbitmqctl', ['-q', 'add_user', vhost, password]);
  sh('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, vhost, '.*', '.*', '.*']);
  sh('redis-cli', ['-h', '127.0.0.1', 'ACL', 'SETUSER', vhost, 'on', `>${password}`, '~*', '&*', '+@all']);
  const inventory = join(work, 'lab-ci.yaml');
  writeFileSync(inventory, readFileSync(join(ROOT, 'examples', 'ci', 'lab-ci.yaml'), 'utf8').replace('lab: ci', `lab: bench-${id}`).replace('quotes: 8000', `quotes: ${20000 + (parseInt(id, 16) % 20000)}`));
  const urls = { RABBITMQ_URL: `amqp://${vhost}:${password}@127.0.0.1:5672/${vhost}`, REDIS_URL: `redis://${vhost}:${password}@127.0.0.1:6379/0` };
  const upS = lab(['up', '--hosts', inventory], urls);
  up = true;
  const local = Array.from({ length: RUNS }, () => lab(['run', 'smoke']));
  const downS = lab(['down']);
  up = false;
  lines.push(`local lab, existing RabbitMQ + Redis: lab up ${upS.toFixed(1)} s · lab run smoke ${s(local)} · lab down ${downS.toFixed(1)} s`);
  lines.push(`the example CI job's lab steps (up + smoke + down): ${(upS + summarize(local).median + downS).toFixed(1)} s`);
} finally {
  if (up) spawnSync(process.execPath, [BIN, 'down'], { env });
  spawnSync('rabbitmqctl', ['-q', 'delete_vhost', vhost], { env: { ...process.env, HOME: '/var/lib/rabbitmq' } });
  spawnSync('rabbitmqctl', ['-q', 'delete_user', vhost], { env: { ...process.env, HOME: '/var/lib/rabbitmq' } });
  spawnSync('redis-cli', ['-h', '127.0.0.1', 'ACL', 'DELUSER', vhost]);
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(`${lines.join('\n')}\n`);
