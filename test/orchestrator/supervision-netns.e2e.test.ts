/**
 * Supervision on network namespaces, as root: lab's supervisor runs every service inside its host's namespace
 * (RabbitMQ as the rabbitmq user, its data 0700/0600); the workers and RabbitMQ killed with SIGKILL come back by
 * themselves — counted in `lab status --json`, their logs going on, the lab still running a scenario; a host's own
 * service with two instances is ready by a line of its log and runs in its host's namespace; a service that exits at
 * once makes `lab up` fail after its policy gave up; `lab down` leaves no namespace, link, process or file.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { LabStatus, ServiceStatus } from '../../lab/orchestrator/status.js';
import { alive, lab } from '../support/cli.js';
import { netnsNames } from '../../lab/providers/netns.js';
import { etcNetns, linkNames, netnsList, processesWithEnv } from '../support/lab-clean.js';
import { root, serviceBinaries } from '../support/prereq.js';

const PAIR = `console.log('pair', process.env.LAB_SERVICE_INDEX, 'on', require('os').networkInterfaces().eth0[0].address); console.log('serving'); setInterval(() => {}, 1e9)`;

async function statusOf(run: (a: string[]) => ReturnType<typeof lab>): Promise<LabStatus> {
  return JSON.parse((await run(['status', '--json'])).stdout) as LabStatus;
}

function service(s: LabStatus, name: string): ServiceStatus {
  const found = s.services.find((x) => x.service === name);
  assert.ok(found, `no service ${name}`);
  return found;
}

/** Wait until `name` has been restarted `restarts` times and is healthy again. */
async function backAgain(run: (a: string[]) => ReturnType<typeof lab>, name: string, restarts: number, timeoutMs: number): Promise<ServiceStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await statusOf(run);
    const x = service(s, name);
    // healthy from here, and ready by its supervisor's own check (which records the time to recover)
    if (x.healthy && x.supervision?.restarts === restarts && x.supervision.state === 'ready') return x;
    assert.ok(Date.now() < deadline, `${name} did not come back: ${JSON.stringify(x)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The bridge and veths lab names for a lab's hosts (other tests' links on this machine are none of ours). */
function linksOf(lab: string, hosts: string[]): Set<string> {
  return new Set(hosts.flatMap((h) => [netnsNames(lab, h).bridge, netnsNames(lab, h).veth]));
}

/** Every file and folder below `dir` whose mode lets group or others in. */
async function openToOthers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const st = await stat(p);
    if ((st.mode & 0o077) !== 0) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (e.isDirectory()) out.push(...(await openToOthers(p)));
  }
  return out;
}

test('netns lab under supervision: killed services come back, a user service per namespace, a clean machine after down', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-supns-'));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 180_000 });
  t.after(async () => {
    await run(['down', '--lab', 'e2esupns']);
    await run(['down', '--lab', 'e2esupnsbad']);
    await rm(home, { recursive: true, force: true });
  });

  const inventory = join(home, 'hosts.yaml');
  await writeFile(
    inventory,
    ['lab: e2esupns', 'provider: netns', 'subnet: 198.19.153.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3:', '    concurrency: 1', '    services:', '      pair:', `        command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(PAIR)}]`, '        count: 2', "        ready: { log: '^serving$', timeout: 30 }", '  HOST4:', ''].join('\n'),
  );
  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  let s = await statusOf(run);
  assert.equal(s.healthy, true, JSON.stringify(s.services, null, 2));
  assert.ok(s.services.every((x) => x.supervision?.mode === 'lab'), 'every service is under lab\'s supervisor');
  const pair = service(s, 'pair');
  assert.deepEqual(pair.supervision?.instances?.map((i) => [i.index, i.state]), [
    [0, 'ready'],
    [1, 'ready'],
  ]);
  const pairLogs = (await run(['logs', 'HOST3', 'pair'])).stdout;
  assert.match(pairLogs, /^pair 0 on 198\.19\.153\.13$/m, "instance 0 runs in HOST3's namespace");
  assert.match(pairLogs, /^pair 1 on 198\.19\.153\.13$/m);

  // RabbitMQ's data: its user's, nobody else's
  const rabbit = join('/var/lib/lab/e2esupns/HOST1/rabbitmq');
  assert.equal((await stat(rabbit)).mode & 0o777, 0o700);
  assert.deepEqual(await openToOthers(rabbit), [], 'RabbitMQ\'s folders are 0700 and its files 0600 (or stricter)');

  // the workers killed: back by themselves, the log going on
  const workers = service(s, 'workers');
  process.kill(workers.pid!, 'SIGKILL');
  const w = await backAgain(run, 'workers', 1, 60_000);
  assert.notEqual(w.pid, workers.pid);
  assert.match(w.health, /consuming/);
  const wlog = (await run(['logs', 'HOST3', 'workers', '-n', '400'])).stdout;
  assert.equal(wlog.split('\n').filter((l) => !l.startsWith('lab supervise:') && l.includes('celery@HOST3 ready. (')).length, 2, 'one log, both runs');
  assert.match(wlog, /^lab supervise: \S+ workers: killed by SIGKILL after [\d.]+ s; restarting in \d+ ms$/m);

  // RabbitMQ killed -9: what its script left (the Erlang VM holding the port) goes, a new one starts on the same data
  s = await statusOf(run);
  const rmq = service(s, 'rabbitmq');
  process.kill(rmq.pid!, 'SIGKILL');
  const r = await backAgain(run, 'rabbitmq', 1, 90_000);
  const recovery = r.supervision?.history?.[0]?.recoveryMs ?? -1;
  assert.ok(recovery > 0, `the time RabbitMQ took to recover is recorded (${recovery} ms)`);
  const rlog = await readFile('/var/lib/lab/e2esupns/HOST1/logs/rabbitmq.log', 'utf8');
  assert.match(rlog, /rabbitmq: stopping what the ended run left running: pid \d+/);
  assert.doesNotMatch(rlog, /eacces/, 'RabbitMQ runs in a folder its user can read');
  // the workers reconnect by themselves; a scenario runs on the lab again
  const ms = await run(['run', 'mergesort', '--n', '2', '--size', '20000', '--reports', join(home, 'reports')]);
  assert.equal(ms.code, 0, `${ms.stdout}\n${ms.stderr}`);
  s = await statusOf(run);
  const pids = s.services.flatMap((x) => [...(x.supervision?.pids ?? [])]);

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
  assert.deepEqual(netnsList().filter((n) => n.includes('e2esupns')), []);
  assert.deepEqual(etcNetns().filter((n) => n.includes('e2esupns')), []);
  const ours = linksOf('e2esupns', ['HOST1', 'HOST2', 'HOST3', 'HOST4']);
  assert.deepEqual(linkNames().filter((l) => ours.has(l)), [], 'no veth or bridge of the lab left');
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
  assert.equal(existsSync('/var/lib/lab/e2esupns'), false);
  assert.equal(existsSync(join(home, 'e2esupns')), false);

  // a service whose command exits at once (a small Redis-only lab: no RabbitMQ to wait for)
  const bad = join(home, 'bad.yaml');
  await writeFile(
    bad,
    ['lab: e2esupnsbad', 'provider: netns', 'subnet: 198.19.154.0/24', 'broker: { kind: redis }', 'hosts:', '  HOST2: { roles: [broker, backend] }', '  HOST3:', '    roles: [workers, master]', '    concurrency: 1', '    services:', '      broken:', '        command: [/bin/sh, -c, "echo broken: no config >&2; exit 2"]', '        maxRestarts: 1', ''].join('\n'),
  );
  const failed = await run(['up', '--hosts', bad]);
  assert.equal(failed.code, 1, failed.stdout);
  assert.match(failed.stderr, /^lab: HOST3: service broken did not start: exited with code 2 after [\d.]+ s before it was ready, 2 times in a row: gave up after 1 restart \(maxRestarts 1\)$/m);
  assert.match(failed.stderr, /^broken: no config$/m);
  const downBad = await run(['down']);
  assert.equal(downBad.code, 0, downBad.stderr);
  assert.deepEqual(netnsList().filter((n) => n.includes('e2esupnsbad')), []);
  const oursBad = linksOf('e2esupnsbad', ['HOST2', 'HOST3']);
  assert.deepEqual(linkNames().filter((l) => oursBad.has(l)), [], 'no veth or bridge of the lab left');
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
  assert.equal(existsSync('/var/lib/lab/e2esupnsbad'), false);
});
